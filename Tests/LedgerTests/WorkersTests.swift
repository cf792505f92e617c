import Foundation
@testable import Ledger
import Testing

@Suite struct WorkersTests {
    /// `parallelMap` keeps order, calls the body once per index, and its results (here reference-counted
    /// strings and objects, written into the array's storage from several threads) outlive it intact.
    /// With any number of pieces per core, up to one piece per item.
    @Test(arguments: [0, 1, 31, 32, 33, 1000, 4099], [1, 16, 64])
    func parallelMapKeepsOrderAndCallsEachIndexOnce(_ count: Int, _ piecesPerCore: Int) {
        final class Box: @unchecked Sendable { let i: Int; init(_ i: Int) { self.i = i } }
        let calls = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
        calls.initialize(repeating: 0)
        defer { calls.deallocate() }
        let c = calls
        let out = parallelMap(count, piecesPerCore: piecesPerCore) { i -> (String, Box) in
            c[i] += 1
            return (String(repeating: "x", count: i % 40) + "\(i)", Box(i))
        }
        #expect(out.count == count)
        #expect(out.enumerated().allSatisfy { $0.element.0 == String(repeating: "x", count: $0.offset % 40) + "\($0.offset)" && $0.element.1.i == $0.offset })
        #expect(c.prefix(count).allSatisfy { $0 == 1 })
    }

    @Test func jobsRunAndThreadsAreParkedForReuse() {
        let pool = Workers(name: "test-worker", maxParked: 2)
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<5 { pool.run { done.signal() } }
        for _ in 0..<5 { done.wait() }
        // Give the finished threads their moment to park (bounded wait, no fixed sleep).
        let deadline = Date().addingTimeInterval(5)
        while pool.parkedCount < 1, Date() < deadline { usleep(1000) }
        #expect(pool.parkedCount >= 1 && pool.parkedCount <= 2)
        // A parked thread takes the next job.
        let before = pool.parkedCount
        pool.run { done.signal() }
        done.wait()
        #expect(pool.parkedCount <= before)
    }

    @Test func aJobWaitingOnAnotherJobNeverDeadlocks() {
        // Every thread busy: the pool starts another rather than queueing behind the waiters.
        let pool = Workers(name: "test-worker", maxParked: 1)
        let n = 8
        let release = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        for _ in 0..<n { pool.run { release.wait(); finished.signal() } }
        pool.run { for _ in 0..<n { release.signal() } }
        for _ in 0..<n { #expect(finished.wait(timeout: .now() + 10) == .success) }
    }
}

@Suite struct LedgerDurabilityTests {
    @Test func aSoloLedgerSyncsEveryBlockAReplicatedOneOnRequest() throws {
        let c = try TestConsortium()
        #expect(c.ledger.syncsEveryBlock)
        try c.ledger.stopSyncingEveryBlock()
        #expect(!c.ledger.syncsEveryBlock)
        _ = try c.enroll("general-hospital", "dr-a", role: "physician")
        try c.ledger.syncToDisk()
        // What was committed without per-block syncs is there, whole, when the file is opened again.
        let reopened = try Ledger(path: c.ledger.path)
        #expect(reopened.height == c.ledger.height)
        #expect(reopened.head.hash == c.ledger.head.hash)
        #expect(try LedgerVerifier.verify(path: c.ledger.path, genesis: c.genesis).ok)
    }
}
