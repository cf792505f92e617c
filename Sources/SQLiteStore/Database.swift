import CSQLite
import Foundation

/// An error from SQLite. Carries the result code, SQLite's message and the SQL text, but never the
/// bound arguments: they may be health data.
public struct DatabaseError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public let sql: String?

    public init(code: Int32, message: String, sql: String? = nil) {
        self.code = code
        self.message = message
        self.sql = sql
    }

    public var description: String {
        var s = "SQLite error \(code): \(message)"
        if let sql { s += " — in: \(sql.prefix(200))" }
        return s
    }
}

/// A value that can be bound to a statement parameter or read from a result column.
public enum SQLValue: Equatable, Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// An owning handle on one SQLite connection. Not thread-safe: use one connection per thread or
/// guard it externally (the ledger store serialises access through its own lock).
public final class Database {
    public struct OpenFlags: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let readOnly = OpenFlags(rawValue: SQLITE_OPEN_READONLY)
        public static let readWrite = OpenFlags(rawValue: SQLITE_OPEN_READWRITE)
        public static let create = OpenFlags(rawValue: SQLITE_OPEN_CREATE)
        public static let uri = OpenFlags(rawValue: SQLITE_OPEN_URI)
        public static let noMutex = OpenFlags(rawValue: SQLITE_OPEN_NOMUTEX)
    }

    public let handle: OpaquePointer
    public let path: String

    public init(path: String, flags: OpenFlags = [.readWrite, .create, .noMutex]) throws {
        _ = SQLiteHeap.countedByTally // the allocator goes in before SQLite initialises
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags.rawValue, nil)
        guard rc == SQLITE_OK, let db else {
            let msg = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open database"
            if let db { sqlite3_close_v2(db) }
            throw DatabaseError(code: rc, message: msg)
        }
        self.handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        // Defaults every Tally connection gets: no extension loading, schema not trusted.
        try config(SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0)
        try config(SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0)
        // tally_patients(x): COUNT(DISTINCT x) with a hash set (the rewriter's distinct-patient count).
        let f = tally_register_functions(db)
        guard f == SQLITE_OK else { throw DatabaseError(code: f, message: "cannot register tally_patients()") }
    }

    /// An in-memory database (tests, scratch work).
    public static func inMemory() throws -> Database {
        try Database(path: ":memory:")
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Sets one integer `sqlite3_db_config` option and returns the resulting value.
    @discardableResult
    public func config(_ op: Int32, _ value: Int32) throws -> Int32 {
        var out: Int32 = -1
        let rc = tally_sqlite3_db_config_int(handle, op, value, &out)
        guard rc == SQLITE_OK else { throw error(rc, sql: nil) }
        return out
    }

    func error(_ rc: Int32, sql: String?) -> DatabaseError {
        DatabaseError(code: rc, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Runs one or more statements without results.
    public func execute(_ sql: String) throws {
        var errmsg: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errmsg)
        if rc != SQLITE_OK {
            let msg = errmsg.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(errmsg)
            throw DatabaseError(code: rc, message: msg, sql: sql)
        }
    }

    public func prepare(_ sql: String) throws -> Statement {
        try Statement(database: self, sql: sql)
    }

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT`; rolls back if it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try run(begin: "BEGIN IMMEDIATE", body)
    }

    private func run<T>(begin: String, _ body: () throws -> T) throws -> T {
        try execute(begin)
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Runs `body` (reads) on one snapshot: `BEGIN` (deferred) … `COMMIT`, so many small queries take
    /// the file's shared lock once instead of once each. Inside a transaction already, just runs it.
    public func readTransaction<T>(_ body: () throws -> T) throws -> T {
        guard sqlite3_get_autocommit(handle) != 0 else { return try body() }
        return try run(begin: "BEGIN", body)
    }

    /// Convenience: all rows of a query as arrays of values.
    public func rows(_ sql: String, _ args: [SQLValue] = []) throws -> [[SQLValue]] {
        let stmt = try prepare(sql)
        try stmt.bind(args)
        var out: [[SQLValue]] = []
        while try stmt.step() {
            out.append((0..<stmt.columnCount).map { stmt.value($0) })
        }
        return out
    }

    /// Convenience: the first column of the first row, if any.
    public func scalar(_ sql: String, _ args: [SQLValue] = []) throws -> SQLValue? {
        let stmt = try prepare(sql)
        try stmt.bind(args)
        return try stmt.step() ? stmt.value(0) : nil
    }

    public var changes: Int { Int(sqlite3_changes(handle)) }
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Sets a run-time limit (`sqlite3_limit`) and returns the previous value.
    @discardableResult
    public func limit(_ id: Int32, _ value: Int32) -> Int32 {
        sqlite3_limit(handle, id, value)
    }

    public func setBusyTimeout(milliseconds: Int32) {
        sqlite3_busy_timeout(handle, milliseconds)
    }

    /// Interrupts any statement running on this connection (safe from another thread).
    public func interrupt() {
        sqlite3_interrupt(handle)
    }
}

/// An owning prepared statement; finalized on deinit.
public final class Statement {
    public let handle: OpaquePointer
    public let sql: String
    unowned let database: Database

    init(database: Database, sql: String) throws {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(database.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            throw database.error(rc == SQLITE_OK ? SQLITE_MISUSE : rc, sql: sql)
        }
        self.handle = stmt
        self.sql = sql
        self.database = database
    }

    deinit { sqlite3_finalize(handle) }

    public var columnCount: Int { Int(sqlite3_column_count(handle)) }
    public var parameterCount: Int { Int(sqlite3_bind_parameter_count(handle)) }

    public func parameterName(_ index: Int) -> String? {
        sqlite3_bind_parameter_name(handle, Int32(index)).map { String(cString: $0) }
    }

    public func columnName(_ i: Int) -> String {
        String(cString: sqlite3_column_name(handle, Int32(i)))
    }

    /// Resets the statement and clears its bindings so it can be reused.
    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    public func bind(_ values: [SQLValue]) throws {
        sqlite3_reset(handle)
        // Parameters left unbound must read NULL, not a previous run's value.
        if values.count < parameterCount { sqlite3_clear_bindings(handle) }
        for (i, v) in values.enumerated() { try bind(v, at: i + 1) }
    }

    /// Binds UTF-8 bytes as text (no `String` built only to be copied out again).
    public func bind(utf8 bytes: [UInt8], at index: Int) throws {
        let rc = bytes.withUnsafeBytes { bindBytes(Int32(index), $0, asText: true, copied: true) }
        guard rc == SQLITE_OK else { throw database.error(rc, sql: sql) }
    }

    /// Text (UTF-8) or a blob from bytes, length given; SQLite copies them (`copied`) or reads them in
    /// place (`bind(borrowing:)`). Empty bytes stay empty text or an empty blob, not NULL.
    private func bindBytes(_ i: Int32, _ u: UnsafeRawBufferPointer, asText: Bool, copied: Bool) -> Int32 {
        let base = u.baseAddress ?? UnsafeRawPointer(("" as StaticString).utf8Start)
        let destructor = copied ? tally_sqlite3_transient() : nil // nil: SQLITE_STATIC
        return asText ? sqlite3_bind_text(handle, i, base.assumingMemoryBound(to: CChar.self), Int32(u.count), destructor)
                      : sqlite3_bind_blob(handle, i, base, Int32(u.count), destructor)
    }

    /// Runs the statement to completion with parameters bound by `binder` (all of them: the previous
    /// run's values are not cleared), then resets it, whether it succeeded or threw: one reset per
    /// run instead of one before and one after, and the statement is always left ready for the next.
    public func run(binding binder: (Statement) throws -> Void) throws {
        running = true
        defer {
            sqlite3_reset(handle)
            // Nothing borrowed stays bound once the bytes may be gone.
            if borrowed != 0 {
                var mask = borrowed
                while mask != 0 {
                    sqlite3_bind_null(handle, Int32(mask.trailingZeroBitCount) + 1)
                    mask &= mask - 1
                }
                borrowed = 0
            }
            running = false
        }
        try binder(self)
        while try step() {}
    }

    /// Whether `run(binding:)` is under way, and the parameters (1 to 64, bit i-1) bound with
    /// `bind(borrowing:)` in it. Only this statement's own calls touch them, one at a time.
    @exclusivity(unchecked) private var running = false
    @exclusivity(unchecked) private var borrowed: UInt64 = 0

    /// Binds bytes without copying them (SQLITE_STATIC): SQLite reads them in place as the statement
    /// steps. Only inside `run(binding:)`'s binder, and only bytes that stay valid until that run
    /// returns, that is, a `withUnsafeBytes` (or `withUTF8`) around the call to `run`; the run unbinds
    /// them as it ends. Saves the malloc, copy and free a copied value costs (SQLite frees a copied
    /// value's buffer when the parameter is bound again).
    public func bind(borrowing bytes: UnsafeRawBufferPointer, at index: Int, asText: Bool = false) throws {
        precondition(running && index >= 1 && index <= 64, "bind(borrowing:) outside run(binding:), or a parameter past 64")
        let rc = bindBytes(Int32(index), bytes, asText: asText, copied: false)
        guard rc == SQLITE_OK else { throw database.error(rc, sql: sql) }
        borrowed |= 1 << UInt64(index - 1)
    }

    public func bind(_ value: SQLValue, at index: Int) throws {
        let i = Int32(index)
        let rc: Int32
        switch value {
        case .null: rc = sqlite3_bind_null(handle, i)
        case .integer(let v): rc = sqlite3_bind_int64(handle, i, v)
        case .real(let v): rc = sqlite3_bind_double(handle, i, v)
        case .text(let s):
            var s = s
            rc = s.withUTF8 { bindBytes(i, UnsafeRawBufferPointer($0), asText: true, copied: true) }
        case .blob(let b):
            rc = b.withUnsafeBytes { bindBytes(i, $0, asText: false, copied: true) }
        }
        guard rc == SQLITE_OK else { throw database.error(rc, sql: sql) }
    }

    /// Steps once; returns true while a row is available.
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw database.error(rc, sql: sql)
        }
    }

    /// Binds, runs to completion, and resets.
    public func run(_ values: [SQLValue]) throws {
        try bind(values)
        while try step() {}
        sqlite3_reset(handle)
    }

    public func value(_ i: Int) -> SQLValue {
        let c = Int32(i)
        switch sqlite3_column_type(handle, c) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, c))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, c))
        case SQLITE_TEXT: return .text(String(cString: sqlite3_column_text(handle, c)))
        case SQLITE_BLOB: return .blob(blob(i))
        default: return .null
        }
    }

    public func int(_ i: Int) -> Int64 { sqlite3_column_int64(handle, Int32(i)) }

    public func text(_ i: Int) -> String? {
        guard let p = sqlite3_column_text(handle, Int32(i)) else { return nil }
        return String(cString: p)
    }

    public func blob(_ i: Int) -> [UInt8] {
        let c = Int32(i)
        let n = Int(sqlite3_column_bytes(handle, c))
        guard n > 0, let p = sqlite3_column_blob(handle, c) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }

    public func isNull(_ i: Int) -> Bool { sqlite3_column_type(handle, Int32(i)) == SQLITE_NULL }
}

extension SQLValue {
    public var intValue: Int64? { if case .integer(let v) = self { return v }; return nil }
    public var textValue: String? { if case .text(let v) = self { return v }; return nil }
    public var blobValue: [UInt8]? { if case .blob(let v) = self { return v }; return nil }
    /// The value as a person reads it in a table cell (NULL empty, blobs not shown).
    public var displayText: String {
        switch self {
        case .text(let s): return s
        case .integer(let i): return String(i)
        case .real(let d): return String(d)
        case .null: return ""
        case .blob: return "(blob)"
        }
    }
}
