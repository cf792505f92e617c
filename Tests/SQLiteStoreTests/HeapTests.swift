import CSQLite
import Foundation
import SQLiteStore
import Testing

/// SQLite's memory goes through Tally's allocator (`CMemory`): counted, and capped.
@Suite struct HeapTests {
    @Test func tallysAllocatorCountsWhatSQLiteHolds() throws {
        let db = try Database.inMemory()
        #expect(SQLiteHeap.countedByTally)
        // SQLite's own statistics are off: its counter stays at zero however much it holds.
        try db.execute("CREATE TABLE t(b BLOB)")
        try db.prepare("INSERT INTO t VALUES (?)").run([.blob([UInt8](repeating: 7, count: 4 << 20))])
        #expect(sqlite3_memory_used() == 0)
        // Other tests allocate and free concurrently; the 4 MiB this one holds is a floor on the total.
        #expect(SQLiteHeap.bytesInUse >= 4 << 20)
        #expect(try db.scalar("SELECT length(b) FROM t") == .integer(4 << 20))
    }

    @Test func anAllocationPastTheCapFailsItsStatementOnly() throws {
        let db = try Database.inMemory()
        let previous = SQLiteHeap.limit
        // Room for everything else running now, but not for a 600 MB blob (refused before any of it
        // is touched). The cap is process-wide, hence the room.
        let cap = SQLiteHeap.bytesInUse + (256 << 20)
        SQLiteHeap.limit = cap
        let outcome = Result { try db.scalar("SELECT length(randomblob(600000000))") }
        // Other tests share the process: the first member service to start sets its own cap, once. If
        // that happened meanwhile, this statement ran under that cap, which stays; no verdict then.
        guard SQLiteHeap.limit == cap else { return }
        SQLiteHeap.limit = previous
        switch outcome {
        case .success: Issue.record("a 600 MB blob was allocated under a 256 MB cap")
        case .failure(let e): #expect((e as? DatabaseError).map { $0.code & 0xFF } == SQLITE_NOMEM, "\(e)")
        }
        // The connection goes on; small allocations still succeed.
        #expect(try db.scalar("SELECT length(randomblob(1000))") == .integer(1000))
    }
}
