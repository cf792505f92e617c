import Dispatch
import Foundation
import Raft

/// A deterministic cluster simulator (after TigerBeetle's VOPR and FoundationDB's simulation): one 64-bit
/// seed decides the cluster size, the faults and every random choice. Time is simulated; nothing sleeps.
///
/// Each run has a safety phase — message drops, delays, duplication and reordering, symmetric and
/// asymmetric partitions, crashes that lose unsynced writes, restarts, clock drift and membership
/// changes — and then a liveness phase in which faults stop and the cluster must elect a leader, commit
/// a final write and converge. Checkers run throughout; a violation ends the run with a report.
public final class Simulator {
    public struct Options: Sendable {
        /// Simulated milliseconds of each phase.
        public var safetyMillis: Int64 = 20_000
        public var livenessMillis: Int64 = 20_000
        public var tickMillis: Int64 = 10
        public var electionTicks: Int = 10
        /// Most simulated milliseconds a write takes to reach the disk (crashes in between lose it).
        public var fsyncMillis: Int64 = 8
        /// Applied entries between snapshots (log compaction).
        public var snapshotEvery: UInt64 = 40
        /// A leader sends appends while its own write syncs (as `ClusterNode` does).
        public var earlyLeaderAppends = true
        public var clientRequestsPerSecond: Int = 60
        public init() {}
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var seed: UInt64
        public var voters: Int
        public var learners: Int
        public var failure: String?
        public var events: Int = 0
        public var committedEntries: UInt64 = 0
        public var acknowledged: Int = 0
        public var elections: Int = 0
        public var crashes: Int = 0
        public var partitions: Int = 0
        public var membershipChanges: Int = 0
        public var snapshotsSent: Int = 0
        public var dropped: Int = 0

        public var description: String {
            var s = "seed \(seed): \(voters) voters + \(learners) learner, \(events) events, \(committedEntries) entries committed, "
            s += "\(acknowledged) client ops acknowledged, \(elections) leaders elected, \(crashes) crashes, \(partitions) partitions, "
            s += "\(membershipChanges) membership changes, \(snapshotsSent) snapshots sent, \(dropped) messages dropped"
            if let f = failure { s += "\nFAILED: \(f)" }
            return s
        }
    }

    // MARK: state

    let seed: UInt64
    let options: Options
    var rng: RaftRandom
    var now: Int64 = 0
    var queue = EventQueue()
    var nodes: [NodeID: SimNode] = [:]
    var order: [NodeID] = []
    var blocked = Set<String>() // "a>b": messages from a to b are lost
    var dropRate = 0.0, duplicateRate = 0.0
    var maxDelay: Int64 = 20
    var report: Report
    var faultsOn = true

    // checkers' memory
    var leaders: [UInt64: NodeID] = [:]
    var appliedGlobal: [UInt64: (term: UInt64, hash: UInt64, chain: UInt64)] = [:]
    var maxCommitted: UInt64 = 0
    var history: [UInt64: OpRecord] = [:]
    var nextOpID: UInt64 = 1
    var opPosition: [UInt64: (index: UInt64, slot: Int)] = [:]
    var clientLeaderHint: NodeID?
    var failure: String?

    struct OpRecord {
        var op: Operation
        var invoked: Int64
        var acked: Int64?
        var result: String?
        var attempts = 0
        var proposedAt: NodeID?
    }

    public init(seed: UInt64, options: Options = Options()) {
        self.seed = seed
        self.options = options
        rng = RaftRandom(state: seed)
        let voters = [3, 5, 7][Int(rng.below(3))]
        report = Report(seed: seed, voters: voters, learners: 1)
        let ids = (1...voters + 1).map { "n\($0)" }
        order = ids
        let membership = Membership(voters: Array(ids.prefix(voters)), learners: [ids.last!])
        dropRate = rng.unit() * 0.15
        duplicateRate = rng.unit() * 0.05
        maxDelay = 1 + Int64(rng.below(40))
        for id in ids {
            let drift = 1.0 + (rng.unit() - 0.5) * 0.2 // ±10 % clock drift
            nodes[id] = SimNode(id: id, initial: membership, seed: rng.next(), tickMillis: max(1, Int64(Double(options.tickMillis) * drift)),
                                electionTicks: options.electionTicks)
        }
    }

    /// Runs both phases; the report's `failure` is nil when every check held.
    public func run() -> Report {
        for id in order {
            schedule(at: Int64(rng.below(UInt64(options.tickMillis))), .tick(id))
        }
        schedule(at: 1, .client)
        schedule(at: 100 + Int64(rng.below(1000)), .fault)
        let safetyEnd = options.safetyMillis
        while failure == nil, let ev = queue.pop(), ev.time <= safetyEnd {
            now = ev.time
            handle(ev.event)
        }
        if failure == nil { liveness() }
        report.failure = failure
        report.committedEntries = maxCommitted
        report.acknowledged = history.values.filter { $0.acked != nil }.count
        return report
    }

    // MARK: events

    enum Event {
        case tick(NodeID)
        case deliver(Message)
        case synced(NodeID, generation: Int)
        case client
        case fault
        case restart(NodeID)
        case heal
        case retry(UInt64)
    }

    func schedule(at t: Int64, _ e: Event) { queue.push(time: t, event: e) }

    func handle(_ e: Event) {
        report.events += 1
        switch e {
        case .tick(let id):
            guard let n = nodes[id] else { return }
            schedule(at: now + n.tickMillis, .tick(id))
            guard n.up, n.syncing == nil else { return }
            n.raft.tick()
            process(n)
        case .deliver(let m):
            guard let n = nodes[m.to], n.up else { return }
            if n.syncing != nil {
                // The node is blocked on its disk; the message waits in its socket buffer.
                schedule(at: n.syncing!.until + Int64(rng.below(3)), .deliver(m))
                return
            }
            n.raft.step(m)
            process(n)
        case .synced(let id, let generation):
            guard let n = nodes[id], n.up, let s = n.syncing, s.generation == generation else { return }
            n.syncing = nil
            finish(n, s.ready)
        case .client:
            clientStep()
            schedule(at: now + Int64(1000 / max(options.clientRequestsPerSecond, 1)), .client)
        case .fault:
            if faultsOn { injectFault() }
            schedule(at: now + 20 + Int64(rng.below(300)), .fault)
        case .restart(let id):
            restart(id)
        case .heal:
            blocked = []
        case .retry(let opID):
            retry(opID)
        }
    }

    /// Takes the node's Ready as `ClusterNode` does: writes go to disk first (a sync takes time; a crash
    /// before it completes loses them), and only then are messages sent and entries applied — except
    /// that a leader sends its appends while its own write syncs, and a Ready that only advances the
    /// commit index is not synced at all (its commit index is modelled as never reaching the disk).
    func process(_ n: SimNode) {
        guard n.up, n.syncing == nil, n.raft.hasReady else { return }
        var r = n.raft.ready()
        checkLeader(n)
        let sameTermAndVote = r.hardState.map { $0.term == n.storage.hardState.term && $0.vote == n.storage.hardState.vote } ?? true
        let commitOnly = r.snapshot == nil && r.entries.isEmpty && sameTermAndVote
        if r.needsSync && !commitOnly {
            if options.earlyLeaderAppends && n.raft.role == .leader && sameTermAndVote && r.snapshot == nil {
                for m in r.messages where m.type == .append { transmit(m) }
                r.messages.removeAll { $0.type == .append }
            }
            n.generation += 1
            let latency = 1 + Int64(rng.below(UInt64(max(options.fsyncMillis, 1))))
            n.syncing = (r, now + latency, n.generation)
            schedule(at: now + latency, .synced(n.id, generation: n.generation))
        } else {
            finish(n, r, commitDurable: !commitOnly)
        }
    }

    func finish(_ n: SimNode, _ r: Ready, commitDurable: Bool = true) {
        if commitDurable {
            n.storage.write(r)
        } else if var hs = r.hardState {
            // Unsynced: model the worst case, where the new commit index never reaches the disk.
            hs.commit = n.storage.hardState.commit
            var w = r
            w.hardState = hs
            n.storage.write(w)
        }
        for m in r.messages { transmit(m) }
        if let s = r.snapshot {
            n.machine = KVStateMachine(snapshot: s.data)
            checkApplied(n, index: s.meta.index, term: s.meta.term, hash: nil)
        }
        for e in r.committed { apply(n, e) }
        n.raft.advance(r)
        maxCommitted = max(maxCommitted, n.raft.commit)
        if n.raft.applied >= n.lastSnapshot + options.snapshotEvery, n.machine.applied == n.raft.applied {
            let data = n.machine.snapshotData
            n.raft.compact(through: n.raft.applied, data: data)
            let meta = SnapshotMeta(index: n.raft.applied, term: n.raft.term(at: n.raft.applied) ?? 0, membership: n.raft.membership)
            n.storage.compact(Snapshot(meta: meta, data: data))
            n.lastSnapshot = n.raft.applied
        }
        process(n)
    }

    func transmit(_ m: Message) {
        if m.type == .snapshot { report.snapshotsSent += 1 }
        if faultsOn {
            if blocked.contains("\(m.from)>\(m.to)") || rng.unit() < dropRate {
                report.dropped += 1
                return
            }
            if rng.unit() < duplicateRate { schedule(at: now + 1 + Int64(rng.below(UInt64(maxDelay) * 3)), .deliver(m)) }
        }
        schedule(at: now + 1 + Int64(rng.below(UInt64(maxDelay))), .deliver(m))
    }

    func apply(_ n: SimNode, _ e: Entry) {
        guard e.index == n.machine.applied + 1 else {
            fail("\(n.id) applied entry \(e.index) after \(n.machine.applied): a gap in the applied sequence")
            return
        }
        let took = n.machine.apply(e)
        if e.kind == .membership, appliedGlobal[e.index] == nil { report.membershipChanges += 1 }
        checkApplied(n, index: e.index, term: e.term, hash: fnv(0, e.term, e.index, e.data))
        for (slot, (op, result)) in took.enumerated() {
            if opPosition[op.id] == nil { opPosition[op.id] = (e.index, slot) }
            if var rec = history[op.id], rec.acked == nil, n.id == rec.proposedAt {
                rec.acked = now
                rec.result = result
                history[op.id] = rec
            }
        }
    }

    // MARK: client

    func clientStep() {
        guard faultsOn else { return }
        let id = nextOpID
        nextOpID += 1
        let key = "k\(rng.below(5))"
        let op = rng.below(3) == 0 ? Operation(id: id, kind: .read, key: key, value: "")
                                   : Operation(id: id, kind: .write, key: key, value: "v\(id)")
        history[id] = OpRecord(op: op, invoked: now)
        send(opID: id)
    }

    func send(opID: UInt64) {
        guard var rec = history[opID], rec.acked == nil else { return }
        rec.attempts += 1
        history[opID] = rec
        guard rec.attempts <= 20 else { return } // bounded retries: the operation stays indeterminate
        let target = clientLeaderHint.flatMap { nodes[$0] }.flatMap { $0.up ? $0 : nil } ?? nodes[order[Int(rng.below(UInt64(order.count)))]]!
        if target.up, target.syncing == nil, target.raft.role == .leader {
            do {
                try target.raft.propose(Operation.encode([rec.op]))
                history[opID]!.proposedAt = target.id
                process(target)
            } catch {}
        } else if target.up {
            clientLeaderHint = target.raft.leader
        }
        schedule(at: now + 300 + Int64(rng.below(300)), .retry(opID))
    }

    func retry(_ opID: UInt64) {
        guard let rec = history[opID], rec.acked == nil else { return }
        send(opID: opID)
    }

    // MARK: faults

    func injectFault() {
        let r = rng.below(100)
        switch r {
        case 0..<35: // crash a node (losing what it had not synced), restart it later
            // Half the time, pick a node with a write in flight: that is where losing unsynced data bites.
            let syncing = order.filter { nodes[$0]!.syncing != nil }
            let pick = !syncing.isEmpty && rng.below(2) == 0 ? syncing[Int(rng.below(UInt64(syncing.count)))]
                                                             : order[Int(rng.below(UInt64(order.count)))]
            let n = nodes[pick]!
            guard n.up else { return }
            crash(n)
            schedule(at: now + 50 + Int64(rng.below(1500)), .restart(n.id))
        case 35..<50: // symmetric partition
            let cut = Set(order.filter { _ in rng.below(2) == 0 })
            for a in order { for b in order where cut.contains(a) != cut.contains(b) { blocked.insert("\(a)>\(b)") } }
            report.partitions += 1
            schedule(at: now + 200 + Int64(rng.below(3000)), .heal)
        case 50..<60: // asymmetric: one node can send but not receive (or the reverse)
            let a = order[Int(rng.below(UInt64(order.count)))]
            let inbound = rng.below(2) == 0
            for b in order where b != a { blocked.insert(inbound ? "\(b)>\(a)" : "\(a)>\(b)") }
            report.partitions += 1
            schedule(at: now + 200 + Int64(rng.below(2000)), .heal)
        case 60..<70: // membership change through the leader: promote the learner, or demote a voter
            guard let l = nodes.values.first(where: { $0.up && $0.raft.role == .leader }) else { return }
            let m = l.raft.membership
            var next: Membership
            if let learner = m.learners.first {
                next = Membership(voters: m.voters + [learner], learners: m.learners.filter { $0 != learner })
            } else {
                let victim = m.voters[Int(rng.below(UInt64(m.voters.count)))]
                guard victim != l.id else { return }
                next = Membership(voters: m.voters.filter { $0 != victim }, learners: m.learners + [victim])
            }
            do {
                try l.raft.proposeMembership(next)
                process(l)
            } catch {}
        default:
            break
        }
    }

    func crash(_ n: SimNode) {
        report.crashes += 1
        if let s = n.syncing, rng.below(3) == 0 {
            // A torn write: some of the entries reached the disk, the hard state did not.
            var partial = s.ready
            partial.entries = Array(partial.entries.prefix(Int(rng.below(UInt64(partial.entries.count + 1)))))
            partial.hardState = nil
            partial.snapshot = nil
            partial.messages = []
            if !partial.entries.isEmpty, s.ready.snapshot == nil { n.storage.write(partial) }
        }
        n.up = false
        n.syncing = nil
    }

    func restart(_ id: NodeID) {
        guard let n = nodes[id], !n.up else { return }
        n.restartFromStorage()
        checkLogMatching()
    }

    // MARK: liveness

    func liveness() {
        faultsOn = false
        blocked = []
        for id in order where !nodes[id]!.up { restart(id) }
        let end = now + options.livenessMillis
        var finalOp: UInt64?
        var converged = false
        while failure == nil, let ev = queue.pop(), ev.time <= end {
            now = ev.time
            handle(ev.event)
            if finalOp == nil, let l = stableLeader() {
                let id = nextOpID
                nextOpID += 1
                history[id] = OpRecord(op: Operation(id: id, kind: .write, key: "final", value: "v\(id)"), invoked: now)
                finalOp = id
                do {
                    try l.raft.propose(Operation.encode([history[id]!.op]))
                    history[id]!.proposedAt = l.id
                    process(l)
                } catch { finalOp = nil }
            }
            if let f = finalOp, history[f]?.acked != nil, allConverged() {
                converged = true
                break
            }
            if let f = finalOp, history[f]?.acked == nil, let l = stableLeader(), history[f]?.proposedAt != l.id,
               opPosition[f] == nil {
                // The leader changed before the final write committed: propose it again.
                do { try l.raft.propose(Operation.encode([history[f]!.op])); history[f]!.proposedAt = l.id; process(l) } catch {}
            }
        }
        guard failure == nil else { return }
        if !converged {
            let st = order.map { "\(nodes[$0]!.raft.status) \(nodes[$0]!.raft.membership)" }.joined(separator: "; ")
            fail("liveness: no convergence within \(options.livenessMillis) ms after faults stopped (\(st))")
            return
        }
        checkLogMatching()
        checkLinearizable()
    }

    func stableLeader() -> SimNode? {
        let ls = nodes.values.filter { $0.up && $0.raft.role == .leader }
        guard ls.count >= 1 else { return nil }
        return ls.max { $0.raft.term < $1.raft.term }
    }

    func allConverged() -> Bool {
        guard let l = stableLeader() else { return false }
        let target = l.raft.commit
        // Compare at one index: a follower may briefly have applied more than a new leader knows is committed.
        for n in nodes.values where l.raft.membership.contains(n.id) {
            if !n.up || n.raft.applied != target || n.machine.applied != target { return false }
        }
        let chains = Set(nodes.values.filter { l.raft.membership.contains($0.id) }.map { $0.machine.chain })
        if chains.count != 1 { fail("converged nodes disagree on the state machine's chain hash at \(target)") }
        return true
    }

    // MARK: checkers

    func fail(_ message: String) {
        if failure == nil { failure = "\(message) [t=\(now) ms]" }
    }

    /// Election safety: at most one leader per term.
    func checkLeader(_ n: SimNode) {
        guard n.raft.role == .leader else { return }
        let t = n.raft.term
        if let other = leaders[t] {
            if other != n.id { fail("two leaders in term \(t): \(other) and \(n.id)") }
            return
        }
        leaders[t] = n.id
        report.elections += 1
        // Leader completeness: every entry applied anywhere is in the new leader's log.
        for (index, g) in appliedGlobal where index > n.raft.status.snapshotIndex {
            guard let lt = n.raft.term(at: index) else {
                fail("leader \(n.id) of term \(t) lacks committed entry \(index)")
                return
            }
            if lt != g.term { fail("leader \(n.id) of term \(t) has term \(lt) at committed index \(index), committed with term \(g.term)") }
        }
    }

    /// State-machine safety: every node applies the same entry at each index, and its chain hash agrees.
    func checkApplied(_ n: SimNode, index: UInt64, term: UInt64, hash: UInt64?) {
        if let g = appliedGlobal[index] {
            if g.term != term || (hash != nil && g.hash != 0 && g.hash != hash!) {
                fail("\(n.id) applied a different entry at \(index) (term \(term), first applied with term \(g.term))")
            } else if g.chain != n.machine.chain {
                fail("\(n.id)'s chain hash at \(index) differs from the first node to apply it")
            }
        } else {
            appliedGlobal[index] = (term, hash ?? 0, n.machine.chain)
        }
    }

    /// Log matching: two logs with the same term at an index are identical up to it.
    func checkLogMatching() {
        let live = order.compactMap { nodes[$0] }.filter { $0.up }
        for i in 0..<live.count {
            for j in (i + 1)..<live.count {
                let a = live[i].raft, b = live[j].raft
                var idx = min(a.lastIndex, b.lastIndex)
                let floor = max(a.status.snapshotIndex, b.status.snapshotIndex)
                while idx > floor, a.term(at: idx) != b.term(at: idx) { idx -= 1 }
                var k = idx
                while k > floor {
                    if let x = a.entry(at: k), let y = b.entry(at: k), x != y {
                        fail("log matching: \(live[i].id) and \(live[j].id) agree on term at \(idx) but differ at \(k)")
                        return
                    }
                    k -= 1
                }
            }
        }
    }

    /// Every client operation takes effect at its first position in the applied sequence. The history is
    /// linearizable when (1) every acknowledged operation is in that sequence, (2) an operation acknowledged
    /// before another was invoked comes before it, and (3) every read returned the latest write before it.
    func checkLinearizable() {
        var recs = Array(history.values)
        for r in recs where r.acked != nil && opPosition[r.op.id] == nil {
            fail("acknowledged operation \(r.op.id) is not in the committed sequence (lost write)")
            return
        }
        func pos(_ id: UInt64) -> (UInt64, Int)? { opPosition[id].map { ($0.index, $0.slot) } }
        recs.sort { $0.invoked < $1.invoked }
        let acked = history.values.filter { $0.acked != nil }.sorted { $0.acked! < $1.acked! }
        var k = 0
        var maxBefore: (UInt64, Int)? = nil
        var maxOp: UInt64 = 0
        for r in recs {
            while k < acked.count, acked[k].acked! < r.invoked {
                if let p = pos(acked[k].op.id), maxBefore == nil || p > maxBefore! { maxBefore = p; maxOp = acked[k].op.id }
                k += 1
            }
            if let p = pos(r.op.id), let mb = maxBefore, p < mb {
                fail("real-time order violated: op \(r.op.id) invoked after op \(maxOp) was acknowledged but ordered before it")
                return
            }
        }
        // Replay the committed sequence: reads must have returned the latest write before them.
        var values: [String: String] = [:]
        let ordered = history.values.compactMap { r in pos(r.op.id).map { (p: $0, r: r) } }.sorted { $0.p < $1.p }
        for (_, r) in ordered {
            switch r.op.kind {
            case .write: values[r.op.key] = r.op.value
            case .read:
                if let got = r.result, got != (values[r.op.key] ?? "") {
                    fail("read op \(r.op.id) returned \(got.isEmpty ? "nothing" : got), the sequence says \(values[r.op.key] ?? "nothing")")
                    return
                }
            }
        }
    }
}

/// One simulated node: the Raft core, its disk, its state machine, and whether it is up.
final class SimNode {
    let id: NodeID
    let initial: Membership
    let seed: UInt64
    let tickMillis: Int64
    let electionTicks: Int
    var raft: RaftNode
    var storage = SimStorage()
    var machine = KVStateMachine()
    var up = true
    var syncing: (ready: Ready, until: Int64, generation: Int)?
    var generation = 0
    var lastSnapshot: UInt64 = 0
    var restarts: UInt64 = 0

    init(id: NodeID, initial: Membership, seed: UInt64, tickMillis: Int64, electionTicks: Int) {
        self.id = id
        self.initial = initial
        self.seed = seed
        self.tickMillis = tickMillis
        self.electionTicks = electionTicks
        var c = RaftConfig(id: id, seed: seed)
        c.electionTicks = electionTicks
        raft = RaftNode(config: c, snapshot: nil, initialMembership: initial)
    }

    /// Rebuilds the node from its disk alone: the state machine from the snapshot, the core from the
    /// hard state and log; committed entries after the snapshot are applied again.
    func restartFromStorage() {
        restarts += 1
        var c = RaftConfig(id: id, seed: seed &+ restarts)
        c.electionTicks = electionTicks
        raft = RaftNode(config: c, hardState: storage.hardState, snapshot: storage.snapshot, initialMembership: initial,
                        entries: storage.entries, applied: storage.snapshot?.meta.index ?? 0)
        machine = storage.snapshot.map { KVStateMachine(snapshot: $0.data) } ?? KVStateMachine()
        lastSnapshot = storage.snapshot?.meta.index ?? 0
        up = true
        syncing = nil
    }
}

/// A binary heap of timed events; ties break by insertion order so runs are deterministic.
struct EventQueue {
    private var heap: [(time: Int64, seq: UInt64, event: Simulator.Event)] = []
    private var seq: UInt64 = 0

    mutating func push(time: Int64, event: Simulator.Event) {
        seq += 1
        heap.append((time, seq, event))
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if less(heap[i], heap[p]) { heap.swapAt(i, p); i = p } else { break }
        }
    }

    mutating func pop() -> (time: Int64, event: Simulator.Event)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count, less(heap[l], heap[m]) { m = l }
            if r < heap.count, less(heap[r], heap[m]) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return (top.time, top.event)
    }

    private func less(_ a: (time: Int64, seq: UInt64, event: Simulator.Event), _ b: (time: Int64, seq: UInt64, event: Simulator.Event)) -> Bool {
        a.time != b.time ? a.time < b.time : a.seq < b.seq
    }
}

extension Simulator {
    /// Runs many seeds on `jobs` threads (each simulation is single-threaded and deterministic), calling
    /// `progress` after each; reports come back in seed order.
    public static func runMany(seeds: [UInt64], options: Options, jobs: Int, progress: @Sendable () -> Void = {}) -> [Report] {
        let box = ReportBox(count: seeds.count)
        let jobs = max(1, min(jobs, seeds.count))
        let chunk = (seeds.count + jobs - 1) / jobs
        DispatchQueue.concurrentPerform(iterations: jobs) { j in
            for i in (j * chunk)..<min(seeds.count, (j + 1) * chunk) {
                box.set(i, Simulator(seed: seeds[i], options: options).run())
                progress()
            }
        }
        return box.reports.compactMap { $0 }
    }
}

private final class ReportBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var reports: [Simulator.Report?]
    init(count: Int) { reports = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Simulator.Report) {
        lock.lock()
        reports[i] = r
        lock.unlock()
    }
}
