import Crypto
import Foundation
import SQLiteStore

public struct StateEntry: Equatable, Sendable {
    public var value: JSON
    public var version: Int64
    /// Height of the block that last wrote this key.
    public var height: Int64
}

/// Read access to world state, as of the last committed block.
protocol StateReader: AnyObject {
    func entry(_ key: String) throws -> StateEntry?
}

/// The writes of one block (or one transaction), in key order when digested.
struct StateWrites {
    var entries: [String: StateEntry] = [:]

    /// SHA-256 over the sorted writes: len(key)‖key‖version‖SHA-256(canonical value).
    func digest() -> Hash32 {
        var h = SHA256()
        for key in entries.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let e = entries[key]!
            let k = Array(key.utf8)
            h.update(data: bigEndian(Int64(k.count)))
            h.update(data: k)
            h.update(data: bigEndian(e.version))
            h.update(data: Hash32.sha256(e.value.canonicalBytes).bytes)
        }
        return Hash32(Array(h.finalize()))
    }
}

func bigEndian(_ v: Int64) -> [UInt8] {
    withUnsafeBytes(of: v.bigEndian) { Array($0) }
}

/// The schema of a ledger file. One SQLite file holds the chain and the world state, so a block and
/// its state changes commit in one SQLite transaction.
enum LedgerSchema {
    static let version: Int64 = 1
    static let sql = """
    CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS blocks(
        height INTEGER PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        header TEXT NOT NULL,
        signature BLOB NOT NULL,
        checkpoint TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS transactions(
        hash BLOB PRIMARY KEY,
        height INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        sender TEXT NOT NULL,
        nonce INTEGER NOT NULL,
        op TEXT NOT NULL,
        bytes BLOB NOT NULL,
        result TEXT NOT NULL,
        UNIQUE(sender, nonce)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS transactions_by_position ON transactions(height, idx);
    CREATE TABLE IF NOT EXISTS state(
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        version INTEGER NOT NULL,
        height INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS state_history(
        key TEXT NOT NULL,
        height INTEGER NOT NULL,
        version INTEGER NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY(key, height)
    ) WITHOUT ROWID;
    """
}

/// Prepared statements over the state tables of one connection.
final class StateStore: StateReader {
    let db: Database
    private let getStmt: Statement
    private let getAsOfStmt: Statement
    private let putStmt: Statement
    private let historyStmt: Statement
    private let scanStmt: Statement
    /// Parsed committed values; the ledger is the only writer, so it stays coherent.
    private var cache: [String: StateEntry] = [:]
    private let cacheLimit = 200_000

    init(db: Database) throws {
        self.db = db
        getStmt = try db.prepare("SELECT value, version, height FROM state WHERE key = ?")
        getAsOfStmt = try db.prepare("SELECT value, version, height FROM state_history WHERE key = ? AND height <= ? ORDER BY height DESC LIMIT 1")
        putStmt = try db.prepare("INSERT OR REPLACE INTO state(key, value, version, height) VALUES (?, ?, ?, ?)")
        historyStmt = try db.prepare("INSERT OR REPLACE INTO state_history(key, height, version, value) VALUES (?, ?, ?, ?)")
        scanStmt = try db.prepare("SELECT key, value, version, height FROM state WHERE key >= ? AND key < ? ORDER BY key")
    }

    func entry(_ key: String) throws -> StateEntry? {
        if let e = cache[key] { return e }
        try getStmt.bind([.text(key)])
        defer { getStmt.reset() }
        guard try getStmt.step() else { return nil }
        let e = StateEntry(value: try parseStored(getStmt.text(0) ?? "", key: key), version: getStmt.int(1), height: getStmt.int(2))
        remember(key, e)
        return e
    }

    func entry(_ key: String, asOf height: Int64) throws -> StateEntry? {
        try getAsOfStmt.bind([.text(key), .integer(height)])
        defer { getAsOfStmt.reset() }
        guard try getAsOfStmt.step() else { return nil }
        return StateEntry(value: try parseStored(getAsOfStmt.text(0) ?? "", key: key), version: getAsOfStmt.int(1), height: getAsOfStmt.int(2))
    }

    /// Committed entries whose key starts with `prefix`, in key order.
    func scan(prefix: String, limit: Int = .max) throws -> [(String, StateEntry)] {
        try scanStmt.bind([.text(prefix), .text(prefix + "\u{10FFFF}")])
        defer { scanStmt.reset() }
        var out: [(String, StateEntry)] = []
        while out.count < limit, try scanStmt.step() {
            let key = scanStmt.text(0) ?? ""
            out.append((key, StateEntry(value: try parseStored(scanStmt.text(1) ?? "", key: key), version: scanStmt.int(2), height: scanStmt.int(3))))
        }
        return out
    }

    func write(_ writes: StateWrites) throws {
        for (key, e) in writes.entries {
            let text = SQLValue.text(e.value.canonicalString)
            try putStmt.run([.text(key), text, .integer(e.version), .integer(e.height)])
            try historyStmt.run([.text(key), .integer(e.height), .integer(e.version), text])
        }
    }

    /// Called after the SQLite transaction that wrote `writes` committed.
    func didCommit(_ writes: StateWrites) {
        if cache.count + writes.entries.count > cacheLimit { cache.removeAll(keepingCapacity: true) }
        for (k, e) in writes.entries { cache[k] = e }
    }

    func forgetCache() { cache.removeAll() }

    private func remember(_ key: String, _ e: StateEntry) {
        if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[key] = e
    }

    private func parseStored(_ text: String, key: String) throws -> JSON {
        do { return try JSON.parse(text) } catch {
            throw LedgerError.corrupt(height: -1, "state value for a key in namespace \(key.split(separator: "/").first ?? "") is not valid JSON")
        }
    }
}
