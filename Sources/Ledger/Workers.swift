import Foundation

/// Threads for blocking work (waiting on a commit, on other nodes, on SQLite), kept parked after use
/// so the next job does not pay for creating one. `run` never waits for a thread: with none parked it
/// starts a new one, as a bare `Thread` would, so a job that waits on another job cannot deadlock the
/// pool. At most `maxParked` idle threads are kept; the rest exit when their job ends.
public final class Workers: @unchecked Sendable {
    public static let shared = Workers(name: "tally-worker")

    private final class Worker {
        let wake = DispatchSemaphore(value: 0)
        var job: (() -> Void)?
    }

    private let lock = NSLock()
    private var parked: [Worker] = []
    private let name: String
    public let maxParked: Int

    public init(name: String, maxParked: Int = 32) {
        self.name = name
        self.maxParked = maxParked
    }

    /// Runs `job` on a parked thread, or a new one.
    public func run(_ job: @escaping () -> Void) {
        if let w = lock.withLock({ parked.popLast() }) {
            w.job = job
            w.wake.signal()
            return
        }
        let w = Worker()
        w.job = job
        let t = Thread { [self] in
            while let next = w.job {
                w.job = nil
                next()
                let keep = lock.withLock { () -> Bool in
                    guard parked.count < maxParked else { return false }
                    parked.append(w)
                    return true
                }
                guard keep else { return }
                w.wake.wait()
            }
        }
        t.name = name
        t.start()
    }

    /// Idle threads waiting for work (for tests).
    public var parkedCount: Int { lock.withLock { parked.count } }
}
