import Raft
import SQLiteStore

/// A node's durable Raft state in its own SQLite file (WAL, synchronous=FULL): the hard state, the
/// latest snapshot's metadata and data, and the log after it. `save` writes one `Ready` in a single
/// transaction, so a crash leaves either all of it or none; any storage error is thrown, and the driver
/// stops the node rather than carry on with a state it cannot vouch for.
public final class RaftStore {
    public struct State {
        public var hardState: HardState
        public var snapshot: Snapshot?
        public var entries: [Entry]
        public var membership: Membership?
    }

    let db: Database
    /// Term and vote as last written with a sync; a Ready that changes only the commit index is
    /// written without one (see `save`).
    private(set) var syncedTerm: UInt64 = 0
    private(set) var syncedVote: String?
    private let insertEntry: Statement
    private let deleteFrom: Statement

    public init(path: String) throws {
        db = try Database(path: path)
        db.setBusyTimeout(milliseconds: 5000)
        try db.execute("""
            PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
            CREATE TABLE IF NOT EXISTS hard_state(id INTEGER PRIMARY KEY CHECK (id = 1), term INTEGER NOT NULL, vote TEXT, commit_index INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS entries(idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, kind INTEGER NOT NULL, data BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS snapshot(id INTEGER PRIMARY KEY CHECK (id = 1), idx INTEGER NOT NULL, term INTEGER NOT NULL,
                                                membership BLOB NOT NULL, data BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS bootstrap(id INTEGER PRIMARY KEY CHECK (id = 1), membership BLOB NOT NULL);
            """)
        insertEntry = try db.prepare("INSERT INTO entries(idx, term, kind, data) VALUES (?, ?, ?, ?)")
        deleteFrom = try db.prepare("DELETE FROM entries WHERE idx >= ?")
    }

    /// The membership a fresh cluster starts from (written once, from the genesis file).
    public func bootstrap(_ m: Membership) throws {
        try db.prepare("INSERT OR IGNORE INTO bootstrap(id, membership) VALUES (1, ?)").run([.blob(m.encoded)])
    }

    public func load() throws -> State {
        var hs = HardState()
        if let r = try db.rows("SELECT term, vote, commit_index FROM hard_state WHERE id = 1").first {
            hs = HardState(term: UInt64(r[0].intValue ?? 0), vote: r[1].textValue, commit: UInt64(r[2].intValue ?? 0))
        }
        var snap: Snapshot?
        if let r = try db.rows("SELECT idx, term, membership, data FROM snapshot WHERE id = 1").first {
            guard let m = Membership(encoded: r[2].blobValue ?? []) else { throw StoreError("snapshot membership does not decode") }
            snap = Snapshot(meta: SnapshotMeta(index: UInt64(r[0].intValue ?? 0), term: UInt64(r[1].intValue ?? 0), membership: m),
                            data: r[3].blobValue ?? [])
        }
        var entries: [Entry] = []
        let s = try db.prepare("SELECT idx, term, kind, data FROM entries ORDER BY idx")
        while try s.step() {
            guard let kind = EntryKind(rawValue: UInt8(truncatingIfNeeded: s.int(2))) else { throw StoreError("entry \(s.int(0)) has an unknown kind") }
            let e = Entry(term: UInt64(s.int(1)), index: UInt64(s.int(0)), kind: kind, data: s.blob(3))
            if let last = entries.last, e.index != last.index + 1 { throw StoreError("raft log has a gap after entry \(last.index)") }
            entries.append(e)
        }
        var boot: Membership?
        if case .blob(let b)? = try db.scalar("SELECT membership FROM bootstrap WHERE id = 1") { boot = Membership(encoded: b) }
        syncedTerm = hs.term
        syncedVote = hs.vote
        return State(hardState: hs, snapshot: snap, entries: entries, membership: boot)
    }

    /// Persists one Ready: snapshot, entries (replacing any suffix from the first), then hard state.
    ///
    /// A Ready that only advances the commit index is written without an fsync: the commit index is
    /// not needed for safety (a restarted node relearns it from the leader, and applying a block the
    /// ledger already holds is a no-op), and the next synced write makes it durable anyway. This takes
    /// one fsync off the path from quorum to apply, on the leader and on every follower.
    public func save(_ r: Ready) throws {
        guard r.needsSync else { return }
        let commitOnly = r.snapshot == nil && r.entries.isEmpty && r.hardState.map { $0.term == syncedTerm && $0.vote == syncedVote } ?? true
        if commitOnly { try db.execute("PRAGMA synchronous=NORMAL") }
        if !commitOnly, let hs = r.hardState {
            syncedTerm = hs.term
            syncedVote = hs.vote
        }
        try db.transaction {
            if let s = r.snapshot {
                try writeSnapshot(s)
                try db.prepare("DELETE FROM entries WHERE idx <= ?").run([.integer(Int64(s.meta.index))])
            }
            if let first = r.entries.first {
                try deleteFrom.run([.integer(Int64(first.index))])
                for e in r.entries {
                    try insertEntry.run([.integer(Int64(e.index)), .integer(Int64(e.term)), .integer(Int64(e.kind.rawValue)), .blob(e.data)])
                }
            }
            if let hs = r.hardState {
                try db.prepare("INSERT OR REPLACE INTO hard_state(id, term, vote, commit_index) VALUES (1, ?, ?, ?)")
                    .run([.integer(Int64(hs.term)), hs.vote.map { .text($0) } ?? .null, .integer(Int64(hs.commit))])
            }
        }
        // Any failure above or here is thrown and stops the node: no later write can run unsynced.
        if commitOnly { try db.execute("PRAGMA synchronous=FULL") }
    }

    /// Records a snapshot taken locally and drops the log entries it covers.
    public func compact(_ s: Snapshot) throws {
        try db.transaction {
            try writeSnapshot(s)
            try db.prepare("DELETE FROM entries WHERE idx <= ?").run([.integer(Int64(s.meta.index))])
        }
    }

    private func writeSnapshot(_ s: Snapshot) throws {
        try db.prepare("INSERT OR REPLACE INTO snapshot(id, idx, term, membership, data) VALUES (1, ?, ?, ?, ?)")
            .run([.integer(Int64(s.meta.index)), .integer(Int64(s.meta.term)), .blob(s.meta.membership.encoded), .blob(s.data)])
    }
}

public struct StoreError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = "raft storage: \(d)" }
}
