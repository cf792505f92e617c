import CSQLite
import CMemory

/// SQLite's memory in this process: what it holds, and the cap on it.
///
/// Tally installs its own SQLite allocator before the first connection opens (`CMemory`): it
/// counts the bytes SQLite holds and enforces the cap itself, so SQLite's memory statistics, which
/// take a process-wide mutex on every allocation, stay off. Should SQLite already have been
/// initialised by other code, SQLite's allocator and its own heap limit are used instead.
public enum SQLiteHeap {
    /// Whether Tally's allocator is in place (decided once, before the first connection).
    public static let countedByTally: Bool = tally_sqlite_memory_install() == SQLITE_OK

    /// Bytes SQLite holds now.
    public static var bytesInUse: Int64 {
        countedByTally ? tally_sqlite_memory_used() : sqlite3_memory_used()
    }

    /// The process-wide cap (nil: none). An allocation that would pass it fails, and the statement
    /// that needed it fails with SQLITE_NOMEM; the connection stays usable.
    public static var limit: Int64? {
        get {
            let n = countedByTally ? tally_sqlite_memory_limit() : sqlite3_hard_heap_limit64(-1)
            return n > 0 ? n : nil
        }
        set {
            if countedByTally { tally_sqlite_memory_set_limit(newValue ?? 0) } else { sqlite3_hard_heap_limit64(newValue ?? 0) }
        }
    }
}
