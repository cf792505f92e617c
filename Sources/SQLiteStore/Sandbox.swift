import CSQLite
import Foundation

/// A read-only SQLite connection hardened for untrusted SQL (sqlite.org/security.html):
/// SQLITE_DBCONFIG_DEFENSIVE, trusted_schema off, extension loading off, lowered `sqlite3_limit`s,
/// a deny-by-default authorizer, and a progress handler enforcing a deadline and a step budget; SQLite's
/// heap is capped for the whole process (`SQLiteHeap.limit`).
public final class SandboxConnection {
    public struct Limits: Sendable {
        public var maxLength: Int32 = 1_000_000
        public var maxSQLLength: Int32 = 200_000
        public var maxColumns: Int32 = 100
        public var maxExpressionDepth: Int32 = 200
        public var maxCompoundSelect: Int32 = 20
        public var maxVDBEOps: Int32 = 50_000
        /// 12: the derived `world_state` view builds an encounter with `json_object` of six pairs.
        public var maxFunctionArgs: Int32 = 12
        public var maxLikePatternLength: Int32 = 100
        public var maxVariables: Int32 = 100
        /// Wall-clock limit for one statement.
        public var deadline: Duration = .seconds(10)
        /// Upper bound on progress-handler callbacks (each every `progressInterval` VM steps): a
        /// deterministic budget independent of machine speed.
        public var maxProgressCallbacks: Int = 2_000_000
        public var progressInterval: Int32 = 1000
        public init() {}
    }

    /// What the authorizer lets through.
    public struct Allowance: Sendable {
        /// Table name (lower case) → readable columns (lower case); an empty set allows every column.
        public var tables: [String: Set<String>]
        public var functions: Set<String>
        public init(tables: [String: Set<String>], functions: Set<String>) {
            self.tables = tables
            self.functions = functions
        }
    }

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case denied(String)
        case timeout
        case budgetExhausted
        case tooLarge(String)
        case sqlite(String)

        public var description: String {
            switch self {
            case .denied(let m): return "refused by the sandbox: \(m)"
            case .timeout: return "query stopped: it ran longer than the deadline"
            case .budgetExhausted: return "query stopped: it exceeded its step budget"
            case .tooLarge(let m): return "query stopped: \(m)"
            case .sqlite(let m): return "query failed: \(m)"
            }
        }
    }

    final class Guard {
        var allowance: Allowance
        var denial: String?
        var started = ContinuousClock.now
        var deadline: Duration
        var callbacks = 0
        var maxCallbacks: Int
        var stopReason: Failure?
        init(allowance: Allowance, deadline: Duration, maxCallbacks: Int) {
            self.allowance = allowance
            self.deadline = deadline
            self.maxCallbacks = maxCallbacks
        }
    }

    public let database: Database
    let guardBox: Guard
    let limits: Limits

    public init(path: String, allowance: Allowance, limits: Limits = Limits()) throws {
        database = try Database(path: path, flags: [.readOnly, .noMutex, .uri])
        self.limits = limits
        guardBox = Guard(allowance: allowance, deadline: limits.deadline, maxCallbacks: limits.maxProgressCallbacks)
        try database.config(SQLITE_DBCONFIG_DEFENSIVE, 1)
        try database.config(SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0)
        try database.config(SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0)
        try database.config(SQLITE_DBCONFIG_ENABLE_TRIGGER, 0)
        try database.config(SQLITE_DBCONFIG_ENABLE_VIEW, 0)
        let db = database
        db.limit(SQLITE_LIMIT_LENGTH, limits.maxLength)
        db.limit(SQLITE_LIMIT_SQL_LENGTH, limits.maxSQLLength)
        db.limit(SQLITE_LIMIT_COLUMN, limits.maxColumns)
        db.limit(SQLITE_LIMIT_EXPR_DEPTH, limits.maxExpressionDepth)
        db.limit(SQLITE_LIMIT_COMPOUND_SELECT, limits.maxCompoundSelect)
        db.limit(SQLITE_LIMIT_VDBE_OP, limits.maxVDBEOps)
        db.limit(SQLITE_LIMIT_FUNCTION_ARG, limits.maxFunctionArgs)
        db.limit(SQLITE_LIMIT_ATTACHED, 0)
        db.limit(SQLITE_LIMIT_LIKE_PATTERN_LENGTH, limits.maxLikePatternLength)
        db.limit(SQLITE_LIMIT_VARIABLE_NUMBER, limits.maxVariables)
        db.limit(SQLITE_LIMIT_TRIGGER_DEPTH, 1)
        let ctx = Unmanaged.passUnretained(guardBox).toOpaque()
        sqlite3_set_authorizer(db.handle, sandboxAuthorizer, ctx)
        sqlite3_progress_handler(db.handle, limits.progressInterval, sandboxProgress, ctx)
    }

    /// Runs one SELECT with bound values and returns its rows. Any failure leaves the connection usable.
    public func query(_ sql: String, bindings: [String: SQLValue] = [:], maxRows: Int = 100_000) throws(Failure) -> (columns: [String], rows: [[SQLValue]]) {
        guardBox.denial = nil
        guardBox.stopReason = nil
        guardBox.callbacks = 0
        guardBox.started = ContinuousClock.now
        let stmt: Statement
        do { stmt = try database.prepare(sql) } catch {
            if let d = guardBox.denial { throw .denied(d) }
            throw .sqlite((error as? DatabaseError)?.message ?? "\(error)")
        }
        guard sqlite3_stmt_readonly(stmt.handle) != 0 else { throw .denied("statement is not read-only") }
        for i in 0..<stmt.parameterCount {
            guard let name = stmt.parameterName(i + 1) else { throw .denied("positional parameters are not bound") }
            guard let value = bindings[name] else { throw .sqlite("no value bound for \(name)") }
            do { try stmt.bind(value, at: i + 1) } catch { throw .sqlite("\(error)") }
        }
        let columns = (0..<stmt.columnCount).map { stmt.columnName($0) }
        var rows: [[SQLValue]] = []
        do {
            while try stmt.step() {
                rows.append((0..<stmt.columnCount).map { stmt.value($0) })
                if rows.count > maxRows { throw Failure.tooLarge("more than \(maxRows) result rows") }
            }
        } catch let f as Failure {
            throw f
        } catch {
            if let r = guardBox.stopReason { throw r }
            if let d = guardBox.denial { throw .denied(d) }
            let e = error as? DatabaseError
            if e.map({ $0.code & 0xFF == SQLITE_NOMEM }) == true { throw .tooLarge("the query needs more memory than the sandbox allows") }
            if e.map({ $0.code & 0xFF == SQLITE_TOOBIG }) == true { throw .tooLarge("a value is larger than the sandbox allows") }
            throw .sqlite(e?.message ?? "\(error)")
        }
        return (columns, rows)
    }
}

private func cString(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }

private let sandboxAuthorizer: @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?,
                                               UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int32 = { ctx, action, a1, a2, a3, _ in
    let g = Unmanaged<SandboxConnection.Guard>.fromOpaque(ctx!).takeUnretainedValue()
    switch action {
    case SQLITE_SELECT, SQLITE_RECURSIVE:
        return SQLITE_OK
    case SQLITE_READ:
        let table = cString(a1).lowercased()
        let column = cString(a2).lowercased()
        let schema = cString(a3).lowercased()
        // SQLite passes no database name for some reads (seen for aggregate scans); attached databases
        // cannot occur here (SQLITE_LIMIT_ATTACHED is 0 and ATTACH is denied).
        guard schema.isEmpty || schema == "main" || schema == "temp", let cols = g.allowance.tables[table] else {
            g.denial = "reading \(table) is not allowed"
            return SQLITE_DENY
        }
        if column.isEmpty || cols.isEmpty || cols.contains(column) { return SQLITE_OK }
        g.denial = "reading column \(column) of \(table) is not allowed"
        return SQLITE_DENY
    case SQLITE_FUNCTION:
        let name = cString(a2).lowercased()
        if g.allowance.functions.contains(name) { return SQLITE_OK }
        g.denial = "function \(name)() is not allowed"
        return SQLITE_DENY
    default:
        g.denial = "operation \(action) is not allowed"
        return SQLITE_DENY
    }
}

private let sandboxProgress: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { ctx in
    let g = Unmanaged<SandboxConnection.Guard>.fromOpaque(ctx!).takeUnretainedValue()
    g.callbacks += 1
    if g.callbacks > g.maxCallbacks {
        g.stopReason = .budgetExhausted
        return 1
    }
    if g.callbacks % 16 == 0, ContinuousClock.now - g.started > g.deadline {
        g.stopReason = .timeout
        return 1
    }
    return 0
}
