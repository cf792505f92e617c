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
        defer { SQLiteHeap.limit = previous }
        // Room for everything else running now, but not for a 600 MB blob (refused before any of it
        // is touched). The cap is process-wide, hence the room.
        SQLiteHeap.limit = SQLiteHeap.bytesInUse + (256 << 20)
        do {
            _ = try db.scalar("SELECT length(randomblob(600000000))")
            Issue.record("a 600 MB blob was allocated under a 256 MB cap")
        } catch let e as DatabaseError {
            #expect(e.code & 0xFF == SQLITE_NOMEM)
        }
        // The connection goes on; small allocations still succeed.
        #expect(try db.scalar("SELECT length(randomblob(1000))") == .integer(1000))
    }
}
