import Foundation
import Ledger
import Raft

/// The outcome of a transaction submitted to a replicated node.
public enum SubmitResult: Sendable, CustomStringConvertible {
    case committed(TransactionReceipt)
    case refused(TransactionError)
    /// This node does not lead; the client should go to `leader` (nil while an election runs).
    case notLeader(leader: String?)
    /// The node cannot say: the block carrying it was proposed but leadership changed or time ran out.
    /// Resubmitting is safe — a committed copy makes the retry fail as a duplicate, and the receipt
    /// can be looked up by hash.
    case unknown(String)

    public var description: String {
        switch self {
        case .committed(let r): return "committed at block \(r.height) index \(r.index)"
        case .refused(let e): return "refused: \(e)"
        case .notLeader(let l): return "not the leader" + (l.map { "; the leader is \($0)" } ?? "; no leader elected yet")
        case .unknown(let m): return "outcome unknown: \(m)"
        }
    }
}

/// A consortium node's ledger replicated by Raft: the driver that joins the pure `RaftNode` to durable
/// storage (`RaftStore`), the network (`PeerTransport`) and the ledger.
///
/// One thread runs the loop. Per `Ready` it persists (and syncs) first, then sends, then applies, then
/// advances — so nothing it has said to a peer can be lost in a crash. Each committed Raft entry is one
/// ledger block; every replica (the leader included, when the block is not its own) checks the block in
/// full with `Ledger.apply`, and a block that fails is skipped by every replica alike (it was built on a
/// head that a competing leader's block replaced). Re-applying a block already in the ledger is a no-op,
/// so a restart simply replays the log after the last snapshot.
///
/// Snapshots carry only `(height, block hash)`: the ledger keeps every block, so a replica that missed
/// compacted entries fetches the blocks it lacks from a peer and verifies each before going on. Raft
/// membership follows the ledger's member list: voting members are voters, non-voting members learners;
/// the leader proposes one change at a time until they agree.
///
/// Any storage error stops the node (`fatalError` is avoided: the loop ends and `failure` says why).
public final class ClusterNode: @unchecked Sendable {
    public struct Options: Sendable {
        public var tickMillis = 50
        public var electionTicks = 10
        public var heartbeatTicks = 2
        public var maxPending = 20_000
        public var maxInbox = 20_000
        public var snapshotEvery: UInt64 = 500
        public var catchUpBatch = 64
        public init() {}
    }

    public let ledger: Ledger
    public let org: String
    let keys: OrganisationKeys
    let store: RaftStore
    let options: Options
    let clock: @Sendable () -> Int64
    let log: @Sendable (String) -> Void
    private(set) var raft: RaftNode
    private var transport: PeerTransport!

    private let cond = NSCondition()
    private var inbox: [(String, PeerPayload)] = []
    private var pending: [(Transaction, Waiter)] = []
    private var running = false
    private var stopped = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)
    public private(set) var failure: String?
    /// Called on the Raft thread after each block is written to the ledger; must return at once
    /// (e.g. signal a condition). Set before `start()`.
    public var onBlock: (@Sendable () -> Void)?

    /// Counters for operators and tests.
    public struct Counters: Sendable {
        public var blocksCommitted = 0, entriesSkipped = 0, snapshotsInstalled = 0, blocksFetched = 0, blocksServed = 0
    }
    private var _counters = Counters()
    public var counters: Counters { cond.withLock { _counters } }
    private func count(_ f: (inout Counters) -> Void) { cond.withLock { f(&_counters) } }

    // loop-thread state
    /// A block being built off the loop thread (so heartbeats go on while a big block executes).
    private var building = false
    private var built: (result: Result<ProposedBlock, Error>, fresh: [(Transaction, Waiter)])?
    private var inFlight: (index: UInt64, proposal: ProposedBlock, waiters: [Hash32: Waiter])?
    private var catchUp: CatchUp?
    private var lastSnapshotIndex: UInt64 = 0
    private var ledgerMembership: Membership?
    private var nextTick = Date()
    private var statusCache: RaftNode.Status

    struct CatchUp {
        var ready: Ready?
        var height: Int64
        var hash: Hash32
        var askedAt = Date.distantPast
        var peerTurn = 0
    }

    /// One submitter's slot: finished once, by the loop (outcome) or by its timeout, whichever is first.
    final class Waiter: @unchecked Sendable {
        let sem = DispatchSemaphore(value: 0)
        var result: SubmitResult = .unknown("no answer")
        private var done = false
        private let lock = NSLock()
        private let callback: (@Sendable (SubmitResult) -> Void)?
        init(_ callback: (@Sendable (SubmitResult) -> Void)? = nil) { self.callback = callback }
        func finish(_ r: SubmitResult) {
            let first = lock.withLock { () -> Bool in
                guard !done else { return false }
                done = true
                result = r
                return true
            }
            guard first else { return }
            sem.signal()
            callback?(r)
        }
    }

    /// Opens (or first creates) the Raft state beside the ledger and prepares the transport; `start()` runs it.
    public init(ledger: Ledger, keys: OrganisationKeys, raftPath: String, listen: PeerAddress, peers: [String: PeerAddress],
                options: Options = Options(), clock: @escaping @Sendable () -> Int64 = { Clock.wallMillis() },
                log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        self.ledger = ledger
        self.keys = keys
        org = keys.org
        self.options = options
        self.clock = clock
        self.log = log
        store = try RaftStore(path: raftPath)
        // The Raft log is the durable copy of every committed block; the ledger file is synced before
        // Raft entries are discarded (`maybeCompact`), not on every block.
        try ledger.stopSyncingEveryBlock()
        let initial = ClusterNode.membership(of: ledger)
        try store.bootstrap(initial)
        let st = try store.load()
        var cfg = RaftConfig(id: keys.org, seed: UInt64(bitPattern: Int64(clock())) ^ UInt64(keys.org.hashValue & 0x7fff_ffff))
        cfg.electionTicks = options.electionTicks
        cfg.heartbeatTicks = options.heartbeatTicks
        raft = RaftNode(config: cfg, hardState: st.hardState, snapshot: st.snapshot, initialMembership: st.membership ?? initial,
                        entries: st.entries, applied: st.snapshot?.meta.index ?? 0)
        statusCache = raft.status
        ledgerMembership = initial
        lastSnapshotIndex = st.snapshot?.meta.index ?? 0
        if let s = st.snapshot, let (h, hash) = ClusterNode.decodeSnapshot(s.data), ledger.height < h {
            catchUp = CatchUp(ready: nil, height: h, hash: hash)
        }
        let ledgerRef = ledger
        transport = PeerTransport(chain: ledger.chain, me: keys.org, signing: keys.signing, listen: listen, peers: peers,
                                  trust: { ClusterNode.signingKey(of: $0, in: ledgerRef) },
                                  onReceive: { [weak self] from, p in self?.receive(from, p) }, log: log)
    }

    /// Binds the peer port (returned) and starts the loop.
    @discardableResult
    public func start() throws -> UInt16 {
        let port = try transport.start()
        cond.withLock { running = true }
        let t = Thread { [self] in loop() }
        t.name = "tally-raft"
        thread = t
        t.start()
        return port
    }

    public func stop() {
        cond.withLock {
            running = false
            cond.broadcast()
        }
        if thread != nil { finished.wait() }
        transport.stop()
        cond.withLock {
            for (_, w) in pending { w.finish(.unknown("node stopped")) }
            pending = []
        }
    }

    public var status: RaftNode.Status { cond.withLock { statusCache } }
    public var transportStats: PeerTransport.Stats { transport.stats }

    /// Submits one transaction and waits for its block to commit (or `timeout`).
    public func submit(_ bytes: [UInt8], timeout: TimeInterval = 10) -> SubmitResult {
        let w = Waiter()
        enqueue(bytes, w, timeout: timeout)
        w.sem.wait()
        return w.result
    }

    /// Submits one transaction; `completion` runs once with the outcome (on the node's thread or a
    /// timer's). Blocks no thread while the block commits — what a server with many clients needs.
    public func submit(_ bytes: [UInt8], timeout: TimeInterval = 10, completion: @escaping @Sendable (SubmitResult) -> Void) {
        enqueue(bytes, Waiter(completion), timeout: timeout)
    }

    private func enqueue(_ bytes: [UInt8], _ w: Waiter, timeout: TimeInterval) {
        let tx: Transaction
        do throws(TransactionError) {
            tx = try Transaction(decoding: bytes, maxBytes: Int(ledger.params.maxTransactionBytes))
        } catch {
            w.finish(.refused(error))
            return
        }
        let refusal: SubmitResult? = cond.withLock {
            guard running, failure == nil else { return .unknown("node is not running" + (failure.map { ": \($0)" } ?? "")) }
            guard statusCache.role == .leader else { return .notLeader(leader: statusCache.leader) }
            guard pending.count < options.maxPending else { return .unknown("the node's queue is full; retry shortly") }
            pending.append((tx, w))
            cond.signal()
            return nil
        }
        if let r = refusal {
            w.finish(r)
            return
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { w.finish(.unknown("no commit within \(Int(timeout)) s")) }
    }

    /// Submits many transactions at once (one block when they fit) and waits for all of them.
    public func submit(many: [[UInt8]], timeout: TimeInterval = 30) -> [SubmitResult] {
        var results = [SubmitResult?](repeating: nil, count: many.count)
        var queued: [(Int, Transaction, Waiter)] = []
        for (i, bytes) in many.enumerated() {
            do throws(TransactionError) {
                queued.append((i, try Transaction(decoding: bytes, maxBytes: Int(ledger.params.maxTransactionBytes)), Waiter()))
            } catch { results[i] = .refused(error) }
        }
        let refusal: SubmitResult? = cond.withLock {
            guard running, failure == nil else { return .unknown("node is not running" + (failure.map { ": \($0)" } ?? "")) }
            guard statusCache.role == .leader else { return .notLeader(leader: statusCache.leader) }
            guard pending.count + queued.count <= options.maxPending else { return .unknown("the node's queue is full; retry shortly") }
            pending.append(contentsOf: queued.map { ($0.1, $0.2) })
            cond.signal()
            return nil
        }
        if let r = refusal { return results.map { $0 ?? r } }
        let deadline = DispatchTime.now() + timeout
        for (i, _, w) in queued {
            if w.sem.wait(timeout: deadline) == .timedOut { w.finish(.unknown("no commit within \(Int(timeout)) s")) }
            results[i] = w.result
        }
        return results.map { $0 ?? .unknown("no answer") }
    }

    // MARK: loop

    private func receive(_ from: String, _ p: PeerPayload) {
        cond.withLock {
            if case .raft = p, inbox.count >= options.maxInbox { return } // Raft tolerates the loss
            inbox.append((from, p))
            cond.signal()
        }
    }

    private func loop() {
        defer {
            cond.withLock { stopped = true; statusCache = raft.status }
            finished.signal()
        }
        while true {
            var batch: [(String, PeerPayload)] = []
            var fresh: [(Transaction, Waiter)] = []
            var done: (result: Result<ProposedBlock, Error>, fresh: [(Transaction, Waiter)])?
            let keepGoing: Bool = cond.withLock {
                while running && inbox.isEmpty && built == nil && Date() < nextTick && !(canPropose && !pending.isEmpty) {
                    _ = cond.wait(until: nextTick)
                }
                guard running else { return false }
                batch = inbox
                inbox = []
                done = built
                built = nil
                if canPropose {
                    fresh = Array(pending.prefix(Int(ledger.params.maxBlockTransactions)))
                    pending.removeFirst(fresh.count)
                }
                return true
            }
            guard keepGoing else { return }
            do {
                try step(batch, fresh, done)
            } catch {
                let message = "stopped: \(error)"
                log(message)
                cond.withLock {
                    failure = message
                    running = false
                    for (_, w) in pending { w.finish(.unknown(message)) }
                    pending = []
                }
                inFlight?.waiters.values.forEach { $0.finish(.unknown(message)) }
                return
            }
        }
    }

    /// Whether the loop may build a block now (read under `cond`).
    private var canPropose: Bool {
        statusCache.role == .leader && !building && inFlight == nil && catchUp == nil && statusCache.applied == statusCache.lastIndex
    }

    private func step(_ batch: [(String, PeerPayload)], _ fresh: [(Transaction, Waiter)],
                      _ done: (result: Result<ProposedBlock, Error>, fresh: [(Transaction, Waiter)])?) throws {
        for (from, p) in batch {
            switch p {
            case .raft(let m):
                if catchUp == nil { raft.step(m) }
            case .blockRequest(let h, let n):
                serveBlocks(to: from, from: h, max: n)
            case .blockResponse(let h, let blocks):
                try receiveBlocks(from: h, blocks)
            }
        }
        if catchUp != nil {
            try continueCatchUp()
            publish()
            return
        }
        if Date() >= nextTick {
            raft.tick()
            nextTick = Date().addingTimeInterval(Double(options.tickMillis) / 1000)
        }
        if !fresh.isEmpty { build(fresh) }
        if let d = done {
            building = false
            try propose(d.result.get(), d.fresh)
        }
        try drainReady()
        publish()
    }

    private func publish() {
        let s = raft.status
        let orphaned: [(Transaction, Waiter)] = cond.withLock {
            statusCache = s
            guard s.role != .leader, !pending.isEmpty else { return [] }
            defer { pending = [] }
            return pending
        }
        // Queued but never proposed: safe to send elsewhere.
        for (_, w) in orphaned { w.finish(.notLeader(leader: s.leader)) }
        if s.role != .leader, let f = inFlight, f.index > s.lastIndex {
            // Our proposal was truncated away by a new leader.
            f.waiters.values.forEach { $0.finish(.unknown("leadership changed before the block committed; resubmit")) }
            inFlight = nil
        }
    }

    /// Executes the block on another thread; the loop keeps ticking and answering peers meanwhile.
    private func build(_ fresh: [(Transaction, Waiter)]) {
        building = true
        let ledger = self.ledger, keys = self.keys, time = clock()
        // A thread of its own (a parked worker), not GCD's pool: submitters or servers blocking pool
        // threads must not starve the block builder.
        Workers.shared.run { [self] in
            let r = Result { try ledger.propose(fresh.map(\.0), proposer: keys, time: time) }
            cond.withLock {
                built = (r, fresh)
                cond.signal()
            }
        }
    }

    /// Proposes a built block, if this node still leads and the block still extends the head.
    private func propose(_ p: ProposedBlock, _ fresh: [(Transaction, Waiter)]) throws {
        var waiters: [Hash32: Waiter] = [:]
        for (i, outcome) in p.outcomes.enumerated() {
            switch outcome {
            case .refused(let e): fresh[i].1.finish(.refused(e))
            case .committed: waiters[fresh[i].0.hash] = fresh[i].1
            }
        }
        guard !p.block.transactions.isEmpty else { return }
        guard raft.role == .leader, inFlight == nil, p.block.header.previous == ledger.head.hash else {
            let r: SubmitResult = raft.role == .leader ? .unknown("the ledger moved while the block was built; resubmit") : .notLeader(leader: raft.leader)
            waiters.values.forEach { $0.finish(r) }
            return
        }
        do {
            let index = try raft.propose(p.block.encoded)
            inFlight = (index, p, waiters)
        } catch {
            waiters.values.forEach { $0.finish(.notLeader(leader: raft.leader)) }
        }
    }

    private func drainReady() throws {
        while raft.hasReady {
            let r = raft.ready()
            // A leader may send its appends before its own copy is durable (Raft thesis §10.2.1): it
            // counts its own copy only when it handles the followers' answers, which this thread does
            // after `save` returns. Anything that carries a new term or vote, and every message of a
            // non-leader, waits for the write.
            let sameTermAndVote = r.hardState.map { $0.term == store.syncedTerm && $0.vote == store.syncedVote } ?? true
            let early = raft.role == .leader && sameTermAndVote && r.snapshot == nil
            if early { for m in r.messages where m.type == .append { transport.send(to: m.to, .raft(m)) } }
            try store.save(r)
            for m in r.messages where !(early && m.type == .append) { transport.send(to: m.to, .raft(m)) }
            if let s = r.snapshot, let (h, hash) = ClusterNode.decodeSnapshot(s.data) {
                count { $0.snapshotsInstalled += 1 }
                if ledger.height < h {
                    catchUp = CatchUp(ready: r, height: h, hash: hash)
                    try continueCatchUp()
                    return
                }
                guard try ledger.block(at: h).hash == hash else {
                    throw LedgerError.corrupt(height: h, "the cluster's snapshot names a different block at this height")
                }
            }
            try finish(r)
        }
    }

    /// Applies the committed entries of `r` and advances the core.
    private func finish(_ r: Ready) throws {
        for e in r.committed { try apply(e) }
        raft.advance(r)
        if r.snapshot != nil { lastSnapshotIndex = raft.applied }
        if r.snapshot != nil || r.committed.contains(where: { $0.kind == .normal }) {
            ledgerMembership = ClusterNode.membership(of: ledger)
        }
        try maybeCompact()
        reconcileMembership()
    }

    private func apply(_ e: Entry) throws {
        guard e.kind == .normal else { return }
        let block: Block
        do { block = try Block(encoded: e.data) } catch {
            log("entry \(e.index): not a block (\(error)); skipped by every replica")
            settle(index: e.index, hash: nil)
            return
        }
        let h = block.header.height
        if h <= ledger.height {
            // Replayed after a restart, or a stale block that lost to another leader's.
            let replayed = try ledger.block(at: h).hash == block.hash
            if !replayed { log("entry \(e.index): stale block for height \(h); skipped") }
            settle(index: e.index, hash: replayed ? block.hash : nil)
            return
        }
        if let f = inFlight, f.index == e.index, f.proposal.block.hash == block.hash {
            try ledger.commit(f.proposal)
        } else {
            do { try ledger.apply(block) } catch let err as LedgerError {
                if case .invalidBlock = err {
                    log("entry \(e.index): block \(h) refused (\(err)); skipped by every replica")
                    settle(index: e.index, hash: nil)
                    return
                }
                throw err
            }
        }
        count { $0.blocksCommitted += 1 }
        onBlock?()
        settle(index: e.index, hash: block.hash)
    }

    /// Answers the submitters of the in-flight block once its log position is applied.
    private func settle(index: UInt64, hash: Hash32?) {
        if hash == nil { count { $0.entriesSkipped += 1 } }
        guard let f = inFlight, f.index == index else { return }
        inFlight = nil
        if hash == f.proposal.block.hash {
            for case .committed(let receipt) in f.proposal.outcomes {
                f.waiters[receipt.hash]?.finish(.committed(receipt))
            }
        } else {
            f.waiters.values.forEach { $0.finish(.unknown("the block was replaced by another leader's; resubmit")) }
        }
    }

    private func maybeCompact() throws {
        guard raft.applied >= lastSnapshotIndex + options.snapshotEvery else { return }
        let data = ClusterNode.encodeSnapshot(height: ledger.height, hash: ledger.head.hash)
        let index = raft.applied
        // Blocks are committed without an fsync each (the Raft log is their durable copy): make them
        // durable before the entries that could replay them are discarded.
        try ledger.syncToDisk()
        raft.compact(through: index, data: data)
        guard let t = raft.term(at: index) else { return }
        try store.compact(Snapshot(meta: SnapshotMeta(index: index, term: t, membership: raft.membership), data: data))
        lastSnapshotIndex = index
    }

    /// The leader moves Raft's membership one step towards the ledger's member list (read from the
    /// ledger only after a block is applied: the loop must not wait on the ledger's lock while a block
    /// is being built).
    private func reconcileMembership() {
        guard raft.role == .leader, let want = ledgerMembership else { return }
        let have = raft.membership
        guard want != have else { return }
        var voters = Set(have.voters)
        if let add = want.voters.first(where: { !voters.contains($0) }) {
            voters.insert(add)
        } else if let remove = have.voters.first(where: { !want.voters.contains($0) }) {
            voters.remove(remove)
        }
        let next = Membership(voters: Array(voters), learners: want.learners.filter { !voters.contains($0) })
        guard next != have else { return }
        // Pending or not leading any more: the next applied entry tries again.
        _ = try? raft.proposeMembership(next)
    }

    // MARK: catch-up

    private func continueCatchUp() throws {
        guard var c = catchUp else { return }
        if ledger.height >= c.height {
            guard try ledger.block(at: c.height).hash == c.hash else {
                throw LedgerError.corrupt(height: c.height, "caught up to a different block than the snapshot names")
            }
            catchUp = nil
            if let r = c.ready { try finish(r) }
            return
        }
        guard Date().timeIntervalSince(c.askedAt) > 1 else { return }
        let peers = raft.membership.all.filter { $0 != org }
        guard !peers.isEmpty else { return }
        let target = (c.peerTurn == 0 ? raft.leader : nil) ?? peers[c.peerTurn % peers.count]
        c.peerTurn += 1
        c.askedAt = Date()
        catchUp = c
        transport.send(to: target, .blockRequest(fromHeight: ledger.height + 1, maxBlocks: options.catchUpBatch))
        nextTick = Date().addingTimeInterval(1)
    }

    private func receiveBlocks(from h: Int64, _ blocks: [[UInt8]]) throws {
        guard catchUp != nil, h == ledger.height + 1 else { return }
        for bytes in blocks {
            let b = try Block(encoded: bytes)
            guard b.header.height == ledger.height + 1 else { break }
            try ledger.apply(b)
            count { $0.blocksFetched += 1 }
        }
        catchUp?.askedAt = .distantPast
        try continueCatchUp()
    }

    private func serveBlocks(to peer: String, from h: Int64, max n: Int) {
        var blocks: [[UInt8]] = []
        var bytes = 0
        var height = h
        while height <= ledger.height, blocks.count < min(n, options.catchUpBatch), bytes < 16 << 20 {
            guard let b = try? ledger.block(at: height) else { break }
            let enc = b.encoded
            bytes += enc.count
            blocks.append(enc)
            height += 1
        }
        count { $0.blocksServed += blocks.count }
        transport.send(to: peer, .blockResponse(fromHeight: h, blocks: blocks))
    }

    // MARK: ledger-derived facts

    static func encodeSnapshot(height: Int64, hash: Hash32) -> [UInt8] { Array("\(height) \(hash.hex)".utf8) }

    static func decodeSnapshot(_ data: [UInt8]) -> (Int64, Hash32)? {
        let p = String(decoding: data, as: UTF8.self).split(separator: " ")
        guard p.count == 2, let h = Int64(p[0]), let hash = Hash32(hex: String(p[1])) else { return nil }
        return (h, hash)
    }

    /// Voting active members are voters; non-voting active members are learners.
    public static func membership(of ledger: Ledger) -> Membership {
        var voters: [String] = [], learners: [String] = []
        let ids = ((try? ledger.value(StateKey.chain))??["members"]?.arrayValue ?? []).compactMap(\.stringValue)
        for id in ids {
            guard let m = try? ledger.value(StateKey.member(id)), m["status"]?.stringValue == "active" else { continue }
            if m["voting"]?.boolValue == true { voters.append(id) } else { learners.append(id) }
        }
        return Membership(voters: voters, learners: learners)
    }

    static func signingKey(of org: String, in ledger: Ledger) -> PublicSigningKey? {
        guard let m = try? ledger.value(StateKey.member(org)), m["status"]?.stringValue == "active" else { return nil }
        return m["signing_key"]?.stringValue.flatMap(PublicSigningKey.init(base64:))
    }
}
