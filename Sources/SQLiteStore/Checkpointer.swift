import CSQLite
import Foundation

/// Checkpoints a WAL-mode database on a thread of its own, so the connection that commits does not
/// copy the log back into the database file itself.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses the threshold, on the committing
/// thread: in bulk ingest that was a fifth of the ledger committer's time, on the one thread every
/// block waits for. This replaces it (a WAL hook overrides `wal_autocheckpoint`): once the log holds
/// `pages` frames, a second connection on a thread of its own runs a PASSIVE checkpoint, which copies
/// what no reader still needs and never blocks the writer or readers. If that thread falls behind
/// (the log reaches `inlineAbove` frames) or cannot open the file, the committing connection
/// checkpoints itself, as SQLite would have, so the log stays bounded.
///
/// Durability is unchanged: a commit is durable once it is in the log, which is where
/// `synchronous` applies; a checkpoint only moves committed pages into the main file.
public final class BackgroundCheckpointer {
    /// What the checkpoint thread shares with its owner. The thread holds only this, so dropping the
    /// checkpointer (with the writer connection it keeps alive) stops the thread.
    final class Shared: @unchecked Sendable {
        let cond = NSCondition()
        var requested = false
        var running = false
        var inlineRunning = false
        var stopped = false
        var started = false
        var checkpoints = 0
        var busy = 0
        var failure: String?
    }

    private let shared = Shared()
    /// Kept alive while the hook can be called on it.
    private let writer: Database
    public let pages: Int32
    public let inlineAbove: Int32
    private var inline = 0

    /// Both bounds count frames of the file's own page size (`init(writer:logBytes:inlineAboveBytes:)`
    /// sets them by size instead).
    public init(writer: Database, pages: Int32, inlineAbove: Int32) {
        precondition(pages > 0 && inlineAbove > pages)
        self.writer = writer
        self.pages = pages
        self.inlineAbove = inlineAbove
        sqlite3_wal_hook(writer.handle, checkpointerWalHook, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Bounds by size of log, whatever the file's page size. The defaults, 16 MiB before a
    /// background checkpoint and 64 MiB before the committing connection checkpoints itself, are
    /// 4,096 and 16,384 pages of 4 KiB, not SQLite's 1,000: the ledger and the views insert at random
    /// places in their indexes, so each commit rewrites many of the pages the previous one wrote, and
    /// a checkpoint every 1,000 pages of 4 KiB copied the same pages into the file again and again (a
    /// block of 2,000 registrations alone wrote about 1,000 of them). Counted in pages, the same
    /// bounds let a ledger file of 16 KiB pages (`Ledger.filePageSize`) grow its log to 64 MiB before
    /// a checkpoint; at 1,000 pages (16 MB) the ledger's sequential stage took 15.0 µs of CPU per transaction
    /// instead of 16.3 (mean of six alternating `TallyBench commit-only` runs, `Docs/PERFORMANCE.md`).
    public convenience init(writer: Database, logBytes: Int = 16 << 20, inlineAboveBytes: Int = 64 << 20) throws {
        let pageSize = max(512, Int(try writer.scalar("PRAGMA page_size")?.intValue ?? 4096))
        self.init(writer: writer, pages: Int32(max(1, logBytes / pageSize)), inlineAbove: Int32(max(2, inlineAboveBytes / pageSize)))
    }

    deinit {
        sqlite3_wal_hook(writer.handle, nil, nil)
        shared.cond.withLock {
            shared.stopped = true
            shared.cond.broadcast()
        }
    }

    /// Checkpoints run by the thread, those it found busy (another checkpoint running), those the
    /// committing connection ran itself, and why the thread stopped, if it did.
    public var statistics: (background: Int, busy: Int, inline: Int, failure: String?) {
        shared.cond.withLock { (shared.checkpoints, shared.busy, inline, shared.failure) }
    }

    /// Waits until no checkpoint is requested or running (for tests, and before measuring the file).
    public func waitUntilIdle() {
        shared.cond.withLock {
            while (shared.requested || shared.running) && shared.failure == nil && !shared.stopped { shared.cond.wait() }
        }
    }

    /// Called on the committing thread after each commit, with the frames now in the log.
    fileprivate func committed(_ db: OpaquePointer?, _ schema: UnsafePointer<CChar>?, frames: Int32) {
        if frames >= inlineAbove {
            // Behind (or no thread): what SQLite's own automatic checkpoint would do, after the
            // thread's checkpoint (if one is running) and with the thread held off meanwhile, so the
            // two never collide and this one reaches the end of the log.
            shared.cond.withLock {
                while shared.running { shared.cond.wait() }
                shared.inlineRunning = true
            }
            sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            shared.cond.withLock {
                shared.inlineRunning = false
                inline += 1
                shared.cond.broadcast()
            }
        } else if frames >= pages {
            request()
        }
    }

    private func request() {
        let start: Bool = shared.cond.withLock {
            shared.requested = true
            shared.cond.signal()
            guard !shared.started else { return false }
            shared.started = true
            return true
        }
        guard start else { return }
        let state = shared, path = writer.path
        let t = Thread { BackgroundCheckpointer.run(state, path: path) }
        t.name = "tally-checkpoint"
        t.start()
    }

    private static func run(_ shared: Shared, path: String) {
        let db: Database
        do {
            db = try Database(path: path, flags: [.readWrite, .noMutex])
            // A connection opens the file (and finds it is in WAL mode) on its first statement; a
            // checkpoint before that has nothing to do and says it succeeded.
            try db.execute("SELECT count(*) FROM sqlite_master")
        } catch {
            shared.cond.withLock { shared.failure = "could not open a checkpoint connection: \(error)"; shared.cond.broadcast() }
            return
        }
        while true {
            let go: Bool = shared.cond.withLock {
                while (!shared.requested || shared.inlineRunning) && !shared.stopped { shared.cond.wait() }
                shared.requested = false
                shared.running = !shared.stopped
                return !shared.stopped
            }
            guard go else { return }
            let rc = sqlite3_wal_checkpoint_v2(db.handle, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            let failed: Bool = shared.cond.withLock {
                shared.running = false
                shared.cond.broadcast()
                switch rc & 0xFF {
                case SQLITE_OK: shared.checkpoints += 1
                case SQLITE_BUSY, SQLITE_LOCKED: shared.busy += 1 // another checkpoint was running; the next request retries
                default: shared.failure = "checkpoint failed: SQLite error \(rc)"
                }
                return shared.failure != nil
            }
            // Stopped: the committing connection checkpoints itself from now on (`inlineAbove`).
            if failed { return }
        }
    }
}

private let checkpointerWalHook: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafePointer<CChar>?, Int32) -> Int32 = { ctx, db, schema, frames in
    Unmanaged<BackgroundCheckpointer>.fromOpaque(ctx!).takeUnretainedValue().committed(db, schema, frames: frames)
    return SQLITE_OK
}
