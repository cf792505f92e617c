import CPostgres
import Foundation

/// An error from PostgreSQL or libpq. Carries libpq's message and the SQLSTATE, never bound values.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let sqlState: String?
    public var description: String { sqlState.map { "PostgreSQL error \($0): \(message)" } ?? "PostgreSQL: \(message)" }
}

/// One libpq connection. Connection strings and the standard PG* environment variables work as in psql.
public final class PostgresConnection {
    let conn: OpaquePointer

    public init(_ conninfo: String) throws {
        guard let c = PQconnectdb(conninfo) else { throw PostgresError(message: "out of memory", sqlState: nil) }
        guard PQstatus(c) == CONNECTION_OK else {
            let msg = String(cString: PQerrorMessage(c)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(c)
            throw PostgresError(message: "cannot connect: \(msg)", sqlState: nil)
        }
        conn = c
        _ = try execute("SET client_min_messages = warning")
    }

    deinit { PQfinish(conn) }

    public var isAlive: Bool { PQstatus(conn) == CONNECTION_OK }

    static func check(_ r: OpaquePointer?, _ conn: OpaquePointer) throws -> OpaquePointer {
        guard let r else { throw PostgresError(message: String(cString: PQerrorMessage(conn)), sqlState: nil) }
        let st = PQresultStatus(r)
        if st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN { return r }
        let msg = String(cString: PQresultErrorMessage(r)).trimmingCharacters(in: .whitespacesAndNewlines)
        let state = PQresultErrorField(r, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        PQclear(r)
        throw PostgresError(message: msg.isEmpty ? String(cString: PQerrorMessage(conn)) : msg, sqlState: state)
    }

    /// Runs SQL with text parameters ($1, $2, …); returns rows as optional strings.
    @discardableResult
    public func execute(_ sql: String, _ params: [String?] = []) throws -> [[String?]] {
        let r: OpaquePointer
        if params.isEmpty {
            r = try Self.check(PQexec(conn, sql), conn)
        } else {
            var cStrings = params.map { $0.map { strdup($0) } ?? nil }
            defer { for p in cStrings { free(p) } }
            r = try cStrings.withUnsafeMutableBufferPointer { buf in
                try buf.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buf.count) { ptr in
                    try Self.check(PQexecParams(conn, sql, Int32(params.count), nil, ptr, nil, nil, 0), conn)
                }
            }
        }
        defer { PQclear(r) }
        var rows: [[String?]] = []
        for i in 0..<PQntuples(r) {
            rows.append((0..<PQnfields(r)).map { j in PQgetisnull(r, i, j) == 1 ? nil : String(cString: PQgetvalue(r, i, j)) })
        }
        return rows
    }

    /// COPY … FROM STDIN in text format: each row's fields are escaped here.
    public func copy(into table: String, columns: [String], rows: [[String?]]) throws {
        let r = try Self.check(PQexec(conn, "COPY \(table) (\(columns.joined(separator: ", "))) FROM STDIN"), conn)
        PQclear(r)
        var buffer = ""
        func flush() throws {
            guard !buffer.isEmpty else { return }
            let ok = buffer.withCString { PQputCopyData(conn, $0, Int32(strlen($0))) }
            guard ok == 1 else { throw PostgresError(message: String(cString: PQerrorMessage(conn)), sqlState: nil) }
            buffer.removeAll(keepingCapacity: true)
        }
        for row in rows {
            buffer += row.map { $0.map(Self.copyEscape) ?? "\\N" }.joined(separator: "\t") + "\n"
            if buffer.utf8.count > 1 << 20 { try flush() }
        }
        try flush()
        guard PQputCopyEnd(conn, nil) == 1 else { throw PostgresError(message: String(cString: PQerrorMessage(conn)), sqlState: nil) }
        while let res = PQgetResult(conn) {
            defer { PQclear(res) }
            if PQresultStatus(res) != PGRES_COMMAND_OK {
                throw PostgresError(message: String(cString: PQresultErrorMessage(res)).trimmingCharacters(in: .whitespacesAndNewlines),
                                    sqlState: PQresultErrorField(res, Int32(UInt8(ascii: "C"))).map { String(cString: $0) })
            }
        }
    }

    static func copyEscape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for ch in s.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}
