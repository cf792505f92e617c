import Crypto
import Foundation
import SQLiteStore

public struct StateEntry: Equatable, Sendable {
    /// The value, parsed; nil when the entry was written from its encoding alone (see `value`).
    private let parsed: JSON?
    public var version: Int64
    /// Height of the block that last wrote this key.
    public var height: Int64
    /// The canonical encoding of `value`, computed once: it is both hashed and stored.
    let encoded: [UInt8]

    init(value: JSON, version: Int64, height: Int64, encoded: [UInt8]? = nil) {
        parsed = value
        self.version = version
        self.height = height
        self.encoded = encoded ?? value.canonicalBytes
    }

    /// An entry a contract wrote as canonical bytes (`CanonicalObject`): bulk writes that are
    /// seldom read back in the same block skip building a dictionary only to encode it.
    init(encoded: [UInt8], version: Int64, height: Int64) {
        parsed = nil
        self.version = version
        self.height = height
        self.encoded = encoded
    }

    public var value: JSON {
        if let parsed { return parsed }
        // The bytes came from the canonical encoder, so they parse; a failure would be a bug here.
        do { return try JSON.parseCanonical(encoded) } catch { preconditionFailure("a state entry's own encoding does not parse: \(error)") }
    }

    public static func == (a: Self, b: Self) -> Bool { a.version == b.version && a.height == b.height && a.encoded == b.encoded }
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
        // Keys alone are sorted (moving whole entries costs more than a second look-up); lengths and
        // versions are hashed from the stack.
        for var key in entries.keys.sorted(by: JSON.utf8Less) {
            let e = entries[key]!
            key.withUTF8 { utf8 in
                withUnsafeBytes(of: Int64(utf8.count).bigEndian) { h.update(bufferPointer: $0) }
                h.update(bufferPointer: UnsafeRawBufferPointer(utf8))
            }
            withUnsafeBytes(of: e.version.bigEndian) { h.update(bufferPointer: $0) }
            SHA256.hash(data: e.encoded).withUnsafeBytes { h.update(bufferPointer: $0) }
        }
        return Hash32(digest: h.finalize())
    }
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
        seq INTEGER PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        height INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        sender TEXT NOT NULL,
        nonce INTEGER NOT NULL,
        op TEXT NOT NULL,
        bytes BLOB NOT NULL,
        result TEXT NOT NULL,
        UNIQUE(sender, nonce)
    );
    CREATE INDEX IF NOT EXISTS transactions_by_position ON transactions(height, idx);
    -- Every version of every key. The current world state is the latest row per key (the `state`
    -- view); keeping one table means one write per state change, and reads "as of" any height
    -- are one index seek.
    CREATE TABLE IF NOT EXISTS state_history(
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        height INTEGER NOT NULL,
        version INTEGER NOT NULL,
        value TEXT NOT NULL,
        UNIQUE(key, height)
    );
    CREATE VIEW IF NOT EXISTS state(key, value, version, height) AS
        SELECT key, value, version, max(height) FROM state_history GROUP BY key;
    """
}

/// Prepared statements over the state tables of one connection.
final class StateStore: StateReader {
    let db: Database
    private let getStmt: Statement
    private let getAsOfStmt: Statement
    private let historyStmt: Statement
    private let scanStmt: Statement
    /// Parsed committed values; the ledger is the only writer, so it stays coherent.
    private var cache: [String: StateEntry?] = [:]
    private let cacheLimit = 200_000

    init(db: Database) throws {
        self.db = db
        getStmt = try db.prepare("SELECT value, version, height FROM state_history WHERE key = ? ORDER BY height DESC LIMIT 1")
        getAsOfStmt = try db.prepare("SELECT value, version, height FROM state_history WHERE key = ? AND height <= ? ORDER BY height DESC LIMIT 1")
        historyStmt = try db.prepare("INSERT INTO state_history(key, height, version, value) VALUES (?, ?, ?, ?)")
        scanStmt = try db.prepare("SELECT key, value, version, max(height) FROM state_history WHERE key >= ? AND key < ? GROUP BY key ORDER BY key")
    }

    func entry(_ key: String) throws -> StateEntry? {
        if let e = cache[key] { return e }
        try getStmt.bind([.text(key)])
        defer { getStmt.reset() }
        guard try getStmt.step() else {
            remember(key, nil) // absent keys are looked up again when written (versioning); cache the miss
            return nil
        }
        let text = getStmt.text(0) ?? ""
        let e = StateEntry(value: try parseStored(text, key: key), version: getStmt.int(1), height: getStmt.int(2), encoded: Array(text.utf8))
        remember(key, e)
        return e
    }

    func entry(_ key: String, asOf height: Int64) throws -> StateEntry? {
        try getAsOfStmt.bind([.text(key), .integer(height)])
        defer { getAsOfStmt.reset() }
        guard try getAsOfStmt.step() else { return nil }
        let text = getAsOfStmt.text(0) ?? ""
        return StateEntry(value: try parseStored(text, key: key), version: getAsOfStmt.int(1), height: getAsOfStmt.int(2), encoded: Array(text.utf8))
    }

    /// Committed entries whose key starts with `prefix`, in key order.
    func scan(prefix: String, limit: Int = .max) throws -> [(String, StateEntry)] {
        try scanStmt.bind([.text(prefix), .text(prefix + "\u{10FFFF}")])
        defer { scanStmt.reset() }
        var out: [(String, StateEntry)] = []
        while out.count < limit, try scanStmt.step() {
            let key = scanStmt.text(0) ?? ""
            let text = scanStmt.text(1) ?? ""
            out.append((key, StateEntry(value: try parseStored(text, key: key), version: scanStmt.int(2), height: scanStmt.int(3), encoded: Array(text.utf8))))
        }
        return out
    }

    func write(_ writes: StateWrites) throws {
        for (key, e) in writes.entries {
            try historyStmt.run { s in
                try s.bind(.text(key), at: 1)
                try s.bind(.integer(e.height), at: 2)
                try s.bind(.integer(e.version), at: 3)
                try s.bind(utf8: e.encoded, at: 4)
            }
        }
    }

    /// Called after the SQLite transaction that wrote `writes` committed.
    func didCommit(_ writes: StateWrites) {
        if cache.count + writes.entries.count > cacheLimit { cache.removeAll(keepingCapacity: true) }
        for (k, e) in writes.entries where StateStore.caches(k) { cache[k] = .some(e) }
    }

    /// Namespaces written in bulk and seldom read back soon are not cached: records and audit
    /// events. Bulk ingest wrote 100,000 records a run, each cached once as a miss (read before its
    /// first write) and again as written; the cache grew and rehashed for entries nobody read.
    /// None of their keys ever enters the cache, so none can be stale.
    static let uncachedNamespaces = [StateKey.record(""), AuditKey.namespace]

    @inline(__always)
    static func caches(_ key: String) -> Bool {
        !uncachedNamespaces.contains { key.hasPrefix($0) }
    }

    func forgetCache() { cache.removeAll() }

    private func remember(_ key: String, _ e: StateEntry?) {
        guard StateStore.caches(key) else { return }
        if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[key] = .some(e)
    }

    private func parseStored(_ text: String, key: String) throws -> JSON {
        do { return try JSON.parse(text) } catch {
            throw LedgerError.corrupt(height: -1, "state value for a key in namespace \(key.split(separator: "/").first ?? "") is not valid JSON")
        }
    }
}
