import CSQLite
import Foundation
import SQLiteStore
import Testing

/// The background checkpointer: checkpoints happen off the committing connection, nothing is lost,
/// and the log stays bounded whatever the thread does.
@Suite struct CheckpointerTests {
    static func walFile(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? Int) ?? 0
    }

    /// A fresh WAL-mode file with a table of blobs and an index; `autocheckpoint: false` turns
    /// SQLite's own checkpoints off. Returns the connection, its path, and a clean-up.
    static func walDatabase(autocheckpoint: Bool = true) throws -> (Database, String, () -> Void) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tally-ckpt-\(UUID().uuidString).sqlite").path
        let db = try Database(path: path)
        try db.execute("PRAGMA journal_mode=WAL;\(autocheckpoint ? "" : " PRAGMA wal_autocheckpoint=0;") CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB); CREATE INDEX t_v ON t(v)")
        return (db, path, { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } })
    }

    /// Commits `n` transactions of ~5 pages each (4 KiB blobs in a table and an index).
    static func fill(_ db: Database, _ n: Int, from: Int = 0, after: (Int) -> Void = { _ in }) throws {
        let ins = try db.prepare("INSERT INTO t(k, v) VALUES (?, ?)")
        for i in from..<(from + n) {
            try db.transaction {
                for j in 0..<4 { try ins.run([.integer(Int64(i * 4 + j)), .blob([UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 3000))]) }
            }
            after(i)
        }
    }

    /// Bounds given by size become frames of the file's own page size.
    @Test func boundsBySizeCountPagesOfTheFilesSize() throws {
        for pageSize in [4096, 16384] {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("tally-ckpt-\(UUID().uuidString).sqlite").path
            defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
            let db = try Database(path: path)
            try db.execute("PRAGMA page_size=\(pageSize); PRAGMA journal_mode=WAL; CREATE TABLE t(k INTEGER PRIMARY KEY)")
            let c = try BackgroundCheckpointer(writer: db)
            #expect(c.pages == Int32((16 << 20) / pageSize) && c.inlineAbove == Int32((64 << 20) / pageSize))
        }
    }

    @Test func theThreadCheckpointsAndNothingIsLost() throws {
        let (db, path, cleanUp) = try Self.walDatabase()
        defer { cleanUp() }
        let c = BackgroundCheckpointer(writer: db, pages: 20, inlineAbove: 1_000_000)
        try Self.fill(db, 60)
        c.waitUntilIdle()
        let s = c.statistics
        #expect(s.background >= 1 && s.inline == 0 && s.failure == nil, "\(s)")
        // The main file holds checkpointed pages: more than the empty schema.
        let main = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        #expect(main > 100 * 1024)
        let reader = try Database(path: path, flags: [.readOnly])
        #expect(try reader.scalar("SELECT count(*) FROM t")?.intValue == 240)
        #expect(try reader.scalar("PRAGMA integrity_check")?.textValue == "ok")
    }

    @Test func theLogStaysBoundedWhenTheThreadCannotKeepUp() throws {
        let (db, path, cleanUp) = try Self.walDatabase()
        defer { cleanUp() }
        // The thread is asked at 10 frames; the committing connection checkpoints itself at 40.
        // Whatever the thread's timing, the log never holds much more than 40 frames plus one
        // transaction's (each frame is a 4 KiB page and a 24-byte header).
        let c = BackgroundCheckpointer(writer: db, pages: 10, inlineAbove: 40)
        var largest = 0
        try Self.fill(db, 400) { _ in largest = max(largest, Self.walFile(path)) }
        #expect(largest <= 32 + (40 + 30) * (4096 + 24), "the log grew to \(largest) bytes")
        c.waitUntilIdle()
        #expect(c.statistics.failure == nil)
        #expect(try db.scalar("SELECT count(*) FROM t")?.intValue == 1600)
        #expect(try db.scalar("PRAGMA integrity_check")?.textValue == "ok")
    }

    @Test func withoutItTheSameLoadGrowsTheLogPastTheBound() throws {
        // The bound above is not met by accident: with checkpoints disabled the log grows past it.
        let (db, path, cleanUp) = try Self.walDatabase(autocheckpoint: false)
        defer { cleanUp() }
        try Self.fill(db, 400)
        #expect(Self.walFile(path) > 32 + (40 + 30) * (4096 + 24))
    }
}
