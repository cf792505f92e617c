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
    /// `StateKey.hash` of the entry's key when the writer already had it (it looked the key up and
    /// found nothing just before writing it), so the commit does not hash the key again. Not part
    /// of the entry's value or equality.
    var keyHash: Int64?

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
    /// `StateKey.hash(key)` if the latest `entry` look-up was of `key` and found nothing; nil otherwise.
    func hashOfLatestMiss(_ key: String) -> Int64?
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
///
/// Version 2 indexes hashes by an 8-byte integer (`hash_key`, `key_hash`) instead of the 32-byte
/// hash or the full key text: every block inserts its transactions' hashes and its new keys at
/// random places in those indexes, so index entries a third the size mean far fewer pages
/// rewritten per block (and written again by the WAL checkpoint). Look-ups compare the full hash or
/// key after the integer, so a collision costs a comparison, never a wrong answer. Keys are also
/// indexed in key order for prefix scans, except in the namespaces that are only ever looked up by
/// key (`StateKey.pointOnlyNamespaces`, flagged `by_key = 0`).
///
/// Version 3 numbers each transaction by its place in the chain, `seq = height << 24 | index`
/// (`LedgerSchema.seq`), so a block's transactions are one range of the table's own key and the
/// `(height, idx)` index of versions 1 and 2 is gone (one index insert fewer per transaction).
enum LedgerSchema {
    static let version: Int64 = 3

    /// Bits of a transaction's `seq` that hold its index in the block. A block holds fewer
    /// transactions than `maxBlockTransactions`: proposing stops below it whatever the consortium's
    /// `max_block_txs`, and a block from elsewhere with more is refused (`Ledger.apply`).
    static let indexBits = 24
    static let maxBlockTransactions = 1 << indexBits

    /// A transaction's key in the `transactions` table (version 3 on).
    static func seq(height: Int64, index: Int) -> Int64 { height << Int64(indexBits) | Int64(index) }
    /// The keys of block `height`'s transactions: `lower ..< upper`.
    static func seqRange(height: Int64) -> (lower: Int64, upper: Int64) { (seq(height: height, index: 0), seq(height: height + 1, index: 0)) }
    /// `seq` in SQL, from a row's `height` and `idx` columns (the migration writes it, the verifier checks it).
    static let seqSQL = "((height << \(indexBits)) | idx)"
    /// A row whose `idx` no key can hold.
    static let indexOutOfRangeSQL = "(idx < 0 OR idx >= \(maxBlockTransactions))"
    static let sql = """
    CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS blocks(
        height INTEGER PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        header TEXT NOT NULL,
        signature BLOB NOT NULL,
        checkpoint TEXT NOT NULL
    );
    \(transactionsSQL)
    \(stateSQL)
    \(stateViewSQL)
    """

    /// The current world state: the latest row of each key.
    static let stateViewSQL = """
    CREATE VIEW IF NOT EXISTS state(key, value, version, height) AS
        SELECT key, value, version, max(height) FROM state_history GROUP BY key;
    """

    /// A transaction is unique by (sender, nonce), which its hash covers, so the hash needs no
    /// unique index of its own. `seq` is its position (`seq(height:index:)`), so blocks are read
    /// by a range of it; `height` and `idx` repeat it for readers and tools.
    static let transactionsSQL = """
    CREATE TABLE IF NOT EXISTS transactions(
        seq INTEGER PRIMARY KEY, -- height << 24 | idx
        hash BLOB NOT NULL,
        hash_key INTEGER NOT NULL, -- the hash's first 8 bytes, big-endian (Hash32.key)
        height INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        sender TEXT NOT NULL,
        nonce INTEGER NOT NULL,
        op TEXT NOT NULL,
        bytes BLOB NOT NULL,
        result TEXT NOT NULL,
        UNIQUE(sender, nonce)
    );
    CREATE INDEX IF NOT EXISTS transactions_by_hash ON transactions(hash_key);
    """

    /// Every version of every key. The current world state is the latest row per key (the `state`
    /// view); keeping one table means one write per state change, and reads "as of" any height are
    /// one index seek. A key is written at most once per block (`StateWrites` holds one entry per key).
    static let stateSQL = """
    CREATE TABLE IF NOT EXISTS state_history(
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        key_hash INTEGER NOT NULL, -- StateKey.hash(key)
        by_key INTEGER NOT NULL,   -- 1: in the key-ordered index (StateKey.isScannable)
        height INTEGER NOT NULL,
        version INTEGER NOT NULL,
        value TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS state_by_hash ON state_history(key_hash, height);
    CREATE INDEX IF NOT EXISTS state_by_key ON state_history(key, height) WHERE by_key = 1;
    """
}

/// A state key with its `hashValue` beside it, as the state cache's key. Swift's dictionary keeps no
/// hashes: a look-up compares the key it seeks with every occupied slot on its probe, and state keys of
/// one namespace have the same length and a long common prefix, so each of those comparisons was a
/// `memcmp` into another key's buffer (a miss, as for every new patient, probes several slots). Here
/// the stored hashes are compared first; the strings only when those agree. The hash is Swift's
/// seeded one, so keys chosen to collide cannot lengthen the probes.
struct CacheKey: Hashable {
    let key: String
    let hash: Int

    init(_ key: String) {
        self.key = key
        hash = key.hashValue
    }

    func hash(into h: inout Hasher) { h.combine(hash) }
    static func == (a: CacheKey, b: CacheKey) -> Bool { a.hash == b.hash && a.key == b.key }
}

/// Prepared statements over the state tables of one connection.
final class StateStore: StateReader {
    let db: Database
    private let getStmt: Statement
    private let getAsOfStmt: Statement
    private let historyStmt: Statement
    private let scanStmt: Statement
    private let fullScanStmt: Statement
    /// Parsed committed entries (present ones only); the ledger is the only writer, so it stays coherent.
    private var cache: [CacheKey: StateEntry] = [:]
    private let cacheLimit = 200_000
    /// Keys ever written, for look-ups of keys that do not exist (`KeyPresenceFilter`). Built once
    /// SQLite has answered `presenceCheck` look-ups without it, and only if those are at least an
    /// eighth of the table's rows: building scans every row's key hash, which costs about what that
    /// many look-ups did, so a command that reads a few keys of a large ledger never pays for one.
    /// Kept up to date by `write`; the ledger is the only writer, as for the cache.
    private(set) var presence: KeyPresenceFilter?
    private var probes = 0
    /// Look-ups before the first check, and the smallest filter built, in keys (tests lower both).
    var presenceCheck = 4096
    var presenceMinimumCapacity = 1 << 16
    /// No filter beyond this size (16 M keys: a table of 8 M rows); look-ups then go to SQLite as before.
    static let maxPresenceBytes = 32 << 20

    init(db: Database) throws {
        self.db = db
        getStmt = try db.prepare("SELECT value, version, height FROM state_history WHERE key_hash = ? AND key = ? ORDER BY height DESC LIMIT 1")
        getAsOfStmt = try db.prepare("SELECT value, version, height FROM state_history WHERE key_hash = ? AND key = ? AND height <= ? ORDER BY height DESC LIMIT 1")
        historyStmt = try db.prepare("INSERT INTO state_history(key, key_hash, by_key, height, version, value) VALUES (?, ?, ?, ?, ?, ?)")
        scanStmt = try db.prepare("SELECT key, value, version, max(height) FROM state_history WHERE by_key = 1 AND key >= ? AND key < ? GROUP BY key ORDER BY key")
        // Namespaces outside the key-ordered index are read in full and sorted (see `scan`).
        fullScanStmt = try db.prepare("SELECT key, value, version, max(height) FROM state_history WHERE key >= ? AND key < ? GROUP BY key ORDER BY key")
    }

    /// The key and key hash of the latest look-up that found nothing (see `hashOfLatestMiss`).
    private var latestMiss: (key: String, hash: Int64)?

    func hashOfLatestMiss(_ key: String) -> Int64? {
        guard let m = latestMiss, m.key == key else { return nil }
        return m.hash
    }

    func entry(_ key: String) throws -> StateEntry? {
        latestMiss = nil
        // Keys the cache never holds (records, audit events) skip it: a miss in a large table
        // probes several slots, and bulk ingest looks up every new record once.
        let cached = StateStore.caches(key)
        if cached, let e = cache[CacheKey(key)] { return e }
        let hash = StateKey.hash(key)
        if let p = presence {
            if !p.mayContain(hash) {
                latestMiss = (key, hash)
                return nil
            }
        } else {
            probes += 1
            if probes >= presenceCheck { try considerPresenceFilter() }
        }
        try getStmt.bind([.integer(hash), .text(key)])
        defer { getStmt.reset() }
        // Misses are not kept: the hot writers of new keys (a registration, a record's first
        // version) write version 1 without a second look-up, and a kept miss only cost a
        // dictionary insert per new key that the committed entry then replaced.
        guard try getStmt.step() else {
            latestMiss = (key, hash)
            return nil
        }
        let text = getStmt.text(0) ?? ""
        let e = StateEntry(value: try parseStored(text, key: key), version: getStmt.int(1), height: getStmt.int(2), encoded: Array(text.utf8))
        if cached { remember(key, e) }
        return e
    }

    func entry(_ key: String, asOf height: Int64) throws -> StateEntry? {
        try getAsOfStmt.bind([.integer(StateKey.hash(key)), .text(key), .integer(height)])
        defer { getAsOfStmt.reset() }
        guard try getAsOfStmt.step() else { return nil }
        let text = getAsOfStmt.text(0) ?? ""
        return StateEntry(value: try parseStored(text, key: key), version: getAsOfStmt.int(1), height: getAsOfStmt.int(2), encoded: Array(text.utf8))
    }

    /// Committed entries whose key starts with `prefix`, in key order. A prefix that reaches into a
    /// point-only namespace (`StateKey.pointOnlyNamespaces`) reads the whole table: correct, but
    /// linear in the ledger's history, so nothing on a hot path asks for one.
    func scan(prefix: String, limit: Int = .max) throws -> [(String, StateEntry)] {
        let stmt = StateKey.isScannable(prefix: prefix) ? scanStmt : fullScanStmt
        try stmt.bind([.text(prefix), .text(prefix + "\u{10FFFF}")])
        defer { stmt.reset() }
        var out: [(String, StateEntry)] = []
        while out.count < limit, try stmt.step() {
            let key = stmt.text(0) ?? ""
            let text = stmt.text(1) ?? ""
            out.append((key, StateEntry(value: try parseStored(text, key: key), version: stmt.int(2), height: stmt.int(3), encoded: Array(text.utf8))))
        }
        return out
    }

    /// Inserts `writes` in the open SQLite transaction. The presence filter learns the keys now,
    /// before the commit: if it rolls back, the filter merely holds keys that do not exist.
    func write(_ writes: StateWrites) throws {
        if let p = presence, p.count + writes.entries.count > p.capacity { try buildPresenceFilter(rows: try historyRows()) }
        for (key, e) in writes.entries {
            assert(e.keyHash == nil || e.keyHash == StateKey.hash(key), "an entry carries another key's hash")
            let hash = e.keyHash ?? StateKey.hash(key)
            presence?.insert(hash)
            var key = key
            let scannable: Int64 = StateKey.isScannable(key) ? 1 : 0
            // Key and value are bound where they lie (`bind(borrowing:)`), not copied.
            try key.withUTF8 { k in try e.encoded.withUnsafeBytes { value in
                try historyStmt.run { s in
                    try s.bind(borrowing: UnsafeRawBufferPointer(k), at: 1, asText: true)
                    try s.bind(.integer(hash), at: 2)
                    try s.bind(.integer(scannable), at: 3)
                    try s.bind(.integer(e.height), at: 4)
                    try s.bind(.integer(e.version), at: 5)
                    try s.bind(borrowing: value, at: 6, asText: true)
                }
            } }
        }
    }

    /// Called after the SQLite transaction that wrote `writes` committed.
    func didCommit(_ writes: StateWrites) {
        if cache.count + writes.entries.count > cacheLimit { cache.removeAll(keepingCapacity: true) }
        for (k, e) in writes.entries where StateStore.caches(k) { cache[CacheKey(k)] = e }
    }

    /// Namespaces written in bulk and seldom read back soon are not cached: records and audit
    /// events. Bulk ingest writes 100,000 records a run; cached, the cache grew and rehashed for
    /// entries nobody read.
    /// None of their keys ever enters the cache, so none can be stale.
    static let uncachedNamespaces = [StateKey.record(""), AuditKey.namespace]

    @inline(__always)
    static func caches(_ key: String) -> Bool {
        !uncachedNamespaces.contains { key.hasPrefix($0) }
    }

    func forgetCache() { cache.removeAll() }

    /// Builds the presence filter if look-ups without it reach an eighth of the table's rows;
    /// otherwise sets the next check there.
    private func considerPresenceFilter() throws {
        let rows = try historyRows()
        if probes >= rows / 8 { try buildPresenceFilter(rows: rows) } else { presenceCheck = rows / 8 }
    }

    /// Rows in `state_history` (its largest id: rows are never deleted; cheap, unlike count(*)).
    private func historyRows() throws -> Int {
        guard case .integer(let n)? = try db.scalar("SELECT max(id) FROM state_history") else { return 0 }
        return Int(n)
    }

    /// A filter of every key hash in the table, with room for as many again; none if that would
    /// exceed `maxPresenceBytes`. Runs inside whatever SQLite transaction is open on this
    /// connection, so it also sees the block being written.
    private func buildPresenceFilter(rows: Int) throws {
        let capacity = max(2 * rows, presenceMinimumCapacity)
        guard capacity * KeyPresenceFilter.bitsPerKey / 8 <= StateStore.maxPresenceBytes else {
            presence = nil
            probes = 0
            presenceCheck = .max
            return
        }
        var f = KeyPresenceFilter(capacity: capacity)
        let all = try db.prepare("SELECT key_hash FROM state_history")
        while try all.step() { f.insert(all.int(0)) }
        presence = f
    }

    private func remember(_ key: String, _ e: StateEntry) {
        if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[CacheKey(key)] = e
    }

    private func parseStored(_ text: String, key: String) throws -> JSON {
        do { return try JSON.parse(text) } catch {
            throw LedgerError.corrupt(height: -1, "state value for a key in namespace \(key.split(separator: "/").first ?? "") is not valid JSON")
        }
    }
}

extension LedgerSchema {
    /// The schema version a ledger file says it has.
    static func version(of db: Database) throws -> Int64 {
        guard case .text(let v)? = try db.scalar("SELECT value FROM meta WHERE key = 'schema'"), let found = Int64(v) else {
            throw LedgerError.corrupt(height: 0, "the ledger file names no schema version")
        }
        return found
    }

    /// Brings a file written by an earlier version of Tally up to `version`, in one SQLite
    /// transaction: a crash or an error leaves the file as it was. A file from a newer version is
    /// refused, not guessed at. Returns the version found.
    @discardableResult
    static func migrate(_ db: Database) throws -> Int64 {
        let found = try version(of: db)
        guard found != version else { return found }
        guard found < version else {
            throw LedgerError.storage("the ledger file has schema version \(found); this build of tally reads versions up to \(version)")
        }
        guard found >= 1 else { throw LedgerError.corrupt(height: 0, "unknown schema version \(found)") }
        try db.transaction {
            if found == 1 { try migrateFrom1(db) } else { try migrate2to3(db) }
            try db.prepare("UPDATE meta SET value = ? WHERE key = 'schema'").run([.text(String(version))])
        }
        return found
    }

    /// Version 1 indexed the full transaction hash (a unique constraint) and the full state key.
    /// The two tables are rebuilt in the current layout: integer index keys, transactions keyed by
    /// their position; state rows keep their ids, so nothing that orders by them changes.
    private static func migrateFrom1(_ db: Database) throws {
        try db.execute("""
        DROP VIEW IF EXISTS state;
        DROP INDEX IF EXISTS transactions_by_position;
        ALTER TABLE transactions RENAME TO transactions_v1;
        ALTER TABLE state_history RENAME TO state_history_v1;
        \(transactionsSQL)
        \(stateSQL)
        """)
        let readTx = try db.prepare("SELECT hash, height, idx, sender, nonce, op, bytes, result FROM transactions_v1 ORDER BY seq")
        let writeTx = try db.prepare("INSERT INTO transactions(seq, hash, hash_key, height, idx, sender, nonce, op, bytes, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        while try readTx.step() {
            let hash = readTx.blob(0)
            let (height, index) = (readTx.int(1), readTx.int(2))
            guard hash.count == 32 else { throw LedgerError.corrupt(height: height, "a stored transaction hash is not 32 bytes") }
            guard index >= 0, index < maxBlockTransactions else { throw LedgerError.corrupt(height: height, "a stored transaction index is out of range") }
            try writeTx.run([.integer(seq(height: height, index: Int(index))), .blob(hash), .integer(Hash32(hash).key), .integer(height), .integer(index),
                             readTx.value(3), readTx.value(4), readTx.value(5), readTx.value(6), readTx.value(7)])
        }
        readTx.reset()
        let readState = try db.prepare("SELECT id, key, height, version, value FROM state_history_v1 ORDER BY id")
        let writeState = try db.prepare("INSERT INTO state_history(id, key, key_hash, by_key, height, version, value) VALUES (?, ?, ?, ?, ?, ?, ?)")
        while try readState.step() {
            let key = readState.text(1) ?? ""
            try writeState.run([readState.value(0), .text(key), .integer(StateKey.hash(key)), .integer(StateKey.isScannable(key) ? 1 : 0),
                                readState.value(2), readState.value(3), readState.value(4)])
        }
        readState.reset()
        try db.execute("""
        DROP TABLE transactions_v1;
        DROP TABLE state_history_v1;
        \(stateViewSQL)
        """)
    }

    /// Version 2 numbered transactions 1, 2, 3, … and indexed their positions. The table is
    /// rebuilt keyed by position, in the same order; the state tables are unchanged.
    private static func migrate2to3(_ db: Database) throws {
        let bad = try db.scalar("SELECT count(*) FROM transactions WHERE \(indexOutOfRangeSQL)")?.intValue ?? 0
        guard bad == 0 else { throw LedgerError.corrupt(height: -1, "\(bad) stored transaction indexes are out of range") }
        try db.execute("""
        DROP INDEX IF EXISTS transactions_by_position;
        DROP INDEX IF EXISTS transactions_by_hash;
        ALTER TABLE transactions RENAME TO transactions_v2;
        \(transactionsSQL)
        INSERT INTO transactions(seq, hash, hash_key, height, idx, sender, nonce, op, bytes, result)
            SELECT \(seqSQL), hash, hash_key, height, idx, sender, nonce, op, bytes, result FROM transactions_v2 ORDER BY seq;
        DROP TABLE transactions_v2;
        """)
    }
}
