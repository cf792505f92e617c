/// One Raft participant as a pure state machine (after etcd-io/raft): leader election with pre-vote and
/// check-quorum, log replication with the current-term commit rule, snapshots for lagging nodes,
/// learners, and single-server membership changes that take effect when applied.
///
/// The driver contract: call `tick()` on a timer, `step(_:)` for each message received, `propose(_:)`
/// for new data; whenever `hasReady` is true, take `ready()`, persist, send, apply, then `advance(_:)`.
/// No method blocks, reads a clock, or does I/O.
public final class RaftNode {
    public let config: RaftConfig
    public var id: NodeID { config.id }

    public private(set) var term: UInt64 = 0
    public private(set) var vote: NodeID?
    public private(set) var commit: UInt64 = 0
    public private(set) var applied: UInt64 = 0
    public private(set) var role: Role = .follower
    public private(set) var leader: NodeID?
    /// Membership as of `applied`.
    public private(set) var membership: Membership

    var log: RaftLog
    private var progress: [NodeID: Progress] = [:]
    private var votes: [NodeID: Bool] = [:]
    private var electionElapsed = 0
    private var heartbeatElapsed = 0
    private var randomizedElectionTimeout = 0
    private var pendingMembershipIndex: UInt64 = 0
    private var rng: RaftRandom
    private var messages: [Message] = []
    private var persistedHardState: HardState
    /// Latest snapshot the driver gave us (what we send to lagging followers).
    private var snapshot: Snapshot?
    /// A snapshot received from the leader that the driver must persist and install.
    private var pendingSnapshot: Snapshot?
    /// Membership as of the log's snapshot index (where replaying membership entries starts).
    private var baseMembership: Membership

    /// Starts (or restarts) a node from what storage holds. `applied` is how far the driver's state
    /// machine already is (at least the snapshot's index); committed entries after it are handed out again.
    public init(config: RaftConfig, hardState: HardState = HardState(), snapshot: Snapshot?, initialMembership: Membership,
                entries: [Entry] = [], applied: UInt64? = nil) {
        self.config = config
        rng = RaftRandom(state: config.seed)
        let meta = snapshot?.meta ?? SnapshotMeta(index: 0, term: 0, membership: initialMembership)
        log = RaftLog(snapshotIndex: meta.index, snapshotTerm: meta.term, entries: entries.filter { $0.index > meta.index })
        self.snapshot = snapshot
        term = hardState.term
        vote = hardState.vote
        commit = max(min(hardState.commit, log.lastIndex), meta.index)
        persistedHardState = hardState
        membership = meta.membership
        baseMembership = meta.membership
        self.applied = min(max(applied ?? meta.index, meta.index), commit)
        // Membership entries already applied take effect again.
        var i = meta.index + 1
        while i <= self.applied {
            if let e = log.entry(i), e.kind == .membership, let m = Membership(encoded: e.data) { membership = m }
            i += 1
        }
        resetElectionTimeout()
    }

    // MARK: inputs

    public func tick() {
        switch role {
        case .leader:
            heartbeatElapsed += 1
            electionElapsed += 1
            if electionElapsed >= config.electionTicks {
                electionElapsed = 0
                if config.checkQuorum, !quorumActive() {
                    becomeFollower(term: term, leader: nil)
                    return
                }
            }
            for (peer, var pr) in progress where pr.state == .snapshot {
                pr.snapshotElapsed += 1
                if pr.snapshotElapsed >= config.electionTicks { pr.becomeProbe() }
                progress[peer] = pr
            }
            if heartbeatElapsed >= config.heartbeatTicks {
                heartbeatElapsed = 0
                for peer in peers { sendHeartbeat(to: peer) }
            }
        case .follower, .preCandidate, .candidate:
            electionElapsed += 1
            if promotable, electionElapsed >= randomizedElectionTimeout {
                electionElapsed = 0
                campaign(pre: config.preVote)
            }
        }
    }

    /// Starts an election now (tests and leadership hand-over).
    public func campaign() { if promotable { campaign(pre: config.preVote) } }

    @discardableResult
    public func propose(_ data: [UInt8]) throws(ProposalError) -> UInt64 {
        guard role == .leader else { throw .notLeader(leader: leader) }
        guard data.count <= config.maxProposalBytes else { throw .tooLarge(bytes: data.count, limit: config.maxProposalBytes) }
        return appendAndBroadcast(kind: .normal, data: data)
    }

    /// Proposes a new membership: one voter added or removed (or a learner added, removed or promoted).
    @discardableResult
    public func proposeMembership(_ next: Membership) throws(ProposalError) -> UInt64 {
        guard role == .leader else { throw .notLeader(leader: leader) }
        guard pendingMembershipIndex <= applied else { throw .membershipChangePending }
        guard membership.canChange(to: next) else {
            throw .invalidMembershipChange("only one voter may be added or removed at a time (from \(membership) to \(next))")
        }
        let index = appendAndBroadcast(kind: .membership, data: next.encoded)
        pendingMembershipIndex = index
        return index
    }

    public func step(_ m: Message) {
        guard m.to == id else { return }
        if m.term > term {
            if m.type == .preVote || m.type == .vote {
                // A node that heard from a live leader within the election timeout ignores disruptive candidates.
                let inLease = config.checkQuorum && leader != nil && electionElapsed < config.electionTicks
                if inLease { return }
            }
            switch m.type {
            case .preVote:
                break // a pre-vote never changes our term
            case .preVoteResponse where !m.reject:
                break // granted pre-votes carry the term we would campaign at
            case .append, .heartbeat, .snapshot:
                becomeFollower(term: m.term, leader: m.from)
            default:
                becomeFollower(term: m.term, leader: nil)
            }
        } else if m.term < term {
            if (config.checkQuorum || config.preVote) && (m.type == .append || m.type == .heartbeat) {
                // Tell a stale leader (perhaps cut off and back) about the newer term so it steps down.
                send(Message(type: .appendResponse, from: id, to: m.from, term: term))
            } else if m.type == .preVote {
                send(Message(type: .preVoteResponse, from: id, to: m.from, term: term, reject: true))
            }
            return
        }

        switch m.type {
        case .preVote, .vote:
            handleVoteRequest(m)
        case .preVoteResponse, .voteResponse:
            handleVoteResponse(m)
        case .append, .heartbeat, .snapshot:
            guard role != .leader else { return } // cannot happen: one leader per term
            if role != .follower { becomeFollower(term: term, leader: m.from) }
            electionElapsed = 0
            leader = m.from
            switch m.type {
            case .append: handleAppend(m)
            case .heartbeat: handleHeartbeat(m)
            default: handleSnapshot(m)
            }
        case .appendResponse:
            if role == .leader { handleAppendResponse(m) }
        case .heartbeatResponse:
            if role == .leader { handleHeartbeatResponse(m) }
        }
    }

    // MARK: output

    public var hasReady: Bool {
        !messages.isEmpty || currentHardState != persistedHardState || !log.unstable.isEmpty || pendingSnapshot != nil
            || (pendingSnapshot == nil && applied < min(commit, log.lastIndex))
    }

    public func ready() -> Ready {
        let hs = currentHardState
        var committed: [Entry] = []
        if pendingSnapshot == nil, applied < min(commit, log.lastIndex) {
            committed = log.slice(from: applied + 1, to: min(commit, log.lastIndex), maxCount: config.maxApplyEntries, maxBytes: .max)
        }
        let r = Ready(hardState: hs == persistedHardState ? nil : hs, snapshot: pendingSnapshot, entries: log.unstable,
                      messages: messages, committed: committed)
        messages = []
        return r
    }

    /// The driver has persisted, sent and applied everything in `r`.
    public func advance(_ r: Ready) {
        if let hs = r.hardState { persistedHardState = hs }
        if let s = r.snapshot {
            snapshot = s
            applied = max(applied, s.meta.index)
            membership = s.meta.membership
            baseMembership = s.meta.membership
            pendingSnapshot = nil
        }
        if let last = r.entries.last { log.markStable(through: last.index) }
        for e in r.committed {
            applied = max(applied, e.index)
            if e.kind == .membership, let m = Membership(encoded: e.data) { applyMembership(m) }
        }
        if role == .leader, maybeCommit() { broadcastAppend() }
    }

    /// The driver captured its state machine at `index` (≤ applied): keep `data` to send to lagging
    /// followers and drop log entries up to `index`.
    public func compact(through index: UInt64, data: [UInt8]) {
        guard index <= applied, index > log.snapshotIndex, let t = log.term(index) else { return }
        // Membership at `index`: the newest membership entry at or before it, else the old snapshot's.
        var m = baseMembership
        var i = log.snapshotIndex + 1
        while i <= index {
            if let e = log.entry(i), e.kind == .membership, let mm = Membership(encoded: e.data) { m = mm }
            i += 1
        }
        baseMembership = m
        snapshot = Snapshot(meta: SnapshotMeta(index: index, term: t, membership: m), data: data)
        log.compact(through: index)
    }

    public var status: Status {
        Status(id: id, role: role, term: term, leader: leader, commit: commit, applied: applied, lastIndex: log.lastIndex,
               lastTerm: log.lastTerm, snapshotIndex: log.snapshotIndex, membership: membership)
    }

    public struct Status: Sendable, Equatable, CustomStringConvertible {
        public let id: NodeID
        public let role: Role
        public let term: UInt64
        public let leader: NodeID?
        public let commit: UInt64
        public let applied: UInt64
        public let lastIndex: UInt64
        public let lastTerm: UInt64
        public let snapshotIndex: UInt64
        public let membership: Membership

        public var description: String {
            "\(id) \(role.rawValue) term=\(term) leader=\(leader ?? "-") commit=\(commit) applied=\(applied) last=\(lastTerm)/\(lastIndex)"
        }
    }

    /// Entries the node holds in memory (for checkers and tests).
    public var logEntries: [Entry] { log.entries }
    public var lastIndex: UInt64 { log.lastIndex }
    public func term(at index: UInt64) -> UInt64? { log.term(index) }
    public func entry(at index: UInt64) -> Entry? { log.entry(index) }

    // MARK: roles

    private var currentHardState: HardState { HardState(term: term, vote: vote, commit: commit) }
    private var promotable: Bool { membership.isVoter(id) && pendingSnapshot == nil }
    private var peers: [NodeID] { membership.all.filter { $0 != id } }

    private func resetElectionTimeout() {
        randomizedElectionTimeout = config.electionTicks + Int(rng.next() % UInt64(max(config.electionTicks, 1)))
    }

    private func reset(term newTerm: UInt64) {
        if newTerm != term {
            term = newTerm
            vote = nil
        }
        leader = nil
        electionElapsed = 0
        heartbeatElapsed = 0
        votes = [:]
        progress = [:]
        resetElectionTimeout()
    }

    private func becomeFollower(term t: UInt64, leader l: NodeID?) {
        reset(term: t)
        role = .follower
        leader = l
    }

    private func campaign(pre: Bool) {
        if pre {
            reset(term: term)
            role = .preCandidate
        } else {
            reset(term: term + 1)
            role = .candidate
            vote = id
        }
        votes = [id: true]
        if tally().granted >= membership.quorum {
            if pre { campaign(pre: false) } else { becomeLeader() }
            return
        }
        let type: MessageType = pre ? .preVote : .vote
        let t = pre ? term + 1 : term
        for peer in membership.voters where peer != id {
            send(Message(type: type, from: id, to: peer, term: t, logTerm: log.lastTerm, index: log.lastIndex))
        }
    }

    private func becomeLeader() {
        reset(term: term)
        role = .leader
        leader = id
        for peer in peers { progress[peer] = Progress(next: log.lastIndex + 1) }
        // No membership change until this term's first entry is applied (closes the single-server-change hole).
        pendingMembershipIndex = log.lastIndex + 1
        _ = appendAndBroadcast(kind: .empty, data: [])
    }

    private func tally() -> (granted: Int, rejected: Int) {
        var g = 0, r = 0
        for v in membership.voters {
            if let ok = votes[v] { if ok { g += 1 } else { r += 1 } }
        }
        return (g, r)
    }

    private func quorumActive() -> Bool {
        var active = membership.isVoter(id) ? 1 : 0
        for v in membership.voters where v != id {
            if progress[v]?.recentActive == true { active += 1 }
        }
        for k in progress.keys { progress[k]!.recentActive = false }
        return active >= membership.quorum
    }

    // MARK: votes

    private func handleVoteRequest(_ m: Message) {
        // Every node answers, learners included: a learner promoted by an entry it has not applied yet
        // must still be able to vote, or a cluster whose new voters lag can never elect a leader (the
        // simulator found this; etcd-io/raft makes the same choice). Candidates count only their voters.
        let pre = m.type == .preVote
        let canVote = vote == m.from || (vote == nil && leader == nil) || (pre && m.term > term)
        let upToDate = log.isUpToDate(lastIndex: m.index, lastTerm: m.logTerm)
        let respType: MessageType = pre ? .preVoteResponse : .voteResponse
        if canVote && upToDate {
            send(Message(type: respType, from: id, to: m.from, term: m.term))
            if !pre {
                electionElapsed = 0
                vote = m.from
            }
        } else {
            send(Message(type: respType, from: id, to: m.from, term: term, reject: true))
        }
    }

    private func handleVoteResponse(_ m: Message) {
        let expected: Role = m.type == .preVoteResponse ? .preCandidate : .candidate
        guard role == expected else { return }
        votes[m.from] = votes[m.from] ?? !m.reject
        let (g, r) = tally()
        if g >= membership.quorum {
            if role == .preCandidate { campaign(pre: false) } else { becomeLeader() }
        } else if r >= membership.quorum {
            becomeFollower(term: term, leader: nil)
        }
    }

    // MARK: follower side

    private func handleAppend(_ m: Message) {
        if m.index < commit {
            send(Message(type: .appendResponse, from: id, to: m.from, term: term, index: commit))
            return
        }
        if log.matches(index: m.index, term: m.logTerm) {
            let lastNew = m.index + UInt64(m.entries.count)
            if let conflict = log.truncateAndAppend(m.entries) {
                precondition(conflict > commit, "raft safety: leader \(m.from) overwrote committed entry \(conflict) on \(id)")
            }
            commitTo(min(m.commit, lastNew))
            send(Message(type: .appendResponse, from: id, to: m.from, term: term, index: lastNew))
        } else {
            // Skip back past entries of terms newer than the leader's at that index.
            var hint = min(m.index, log.lastIndex)
            while hint > commit, hint > log.snapshotIndex, let t = log.term(hint), t > m.logTerm { hint -= 1 }
            send(Message(type: .appendResponse, from: id, to: m.from, term: term, index: m.index, reject: true, rejectHint: hint))
        }
    }

    private func handleHeartbeat(_ m: Message) {
        commitTo(min(m.commit, log.lastIndex))
        send(Message(type: .heartbeatResponse, from: id, to: m.from, term: term))
    }

    private func handleSnapshot(_ m: Message) {
        guard let s = m.snapshot else { return }
        let meta = s.meta
        if meta.index <= commit {
            send(Message(type: .appendResponse, from: id, to: m.from, term: term, index: commit))
            return
        }
        if log.matches(index: meta.index, term: meta.term) {
            // We already have the log up to the snapshot: just commit to it.
            commitTo(meta.index)
            send(Message(type: .appendResponse, from: id, to: m.from, term: term, index: meta.index))
            return
        }
        log.restore(meta)
        commit = meta.index
        pendingSnapshot = s
        send(Message(type: .appendResponse, from: id, to: m.from, term: term, index: meta.index))
    }

    private func commitTo(_ index: UInt64) {
        if index > commit { commit = index }
    }

    // MARK: leader side

    private func appendAndBroadcast(kind: EntryKind, data: [UInt8]) -> UInt64 {
        let e = Entry(term: term, index: log.lastIndex + 1, kind: kind, data: data)
        log.append(e)
        broadcastAppend()
        if maybeCommit() { broadcastAppend() }
        return e.index
    }

    private func broadcastAppend() {
        for peer in peers { _ = sendAppend(to: peer) }
    }

    @discardableResult
    private func sendAppend(to peer: NodeID, sendIfEmpty: Bool = true) -> Bool {
        guard var pr = progress[peer], !pr.isPaused(maxInflight: config.maxInflight) else { return false }
        defer { progress[peer] = pr }
        let prev = pr.next - 1
        guard let prevTerm = log.term(prev) else {
            // What the follower needs was compacted: send the snapshot instead.
            guard let s = snapshot else { return false }
            pr.becomeSnapshot(s.meta.index)
            send(Message(type: .snapshot, from: id, to: peer, term: term, snapshot: s))
            return true
        }
        let ents = log.slice(from: pr.next, to: log.lastIndex, maxCount: config.maxEntriesPerMessage, maxBytes: config.maxBytesPerMessage)
        if ents.isEmpty && !sendIfEmpty { return false }
        send(Message(type: .append, from: id, to: peer, term: term, logTerm: prevTerm, index: prev, entries: ents, commit: commit))
        if let last = ents.last?.index, pr.state == .replicate {
            pr.next = last + 1
            pr.inflight.append(last)
        } else if pr.state == .probe {
            pr.probeSent = true
        }
        return true
    }

    private func sendHeartbeat(to peer: NodeID) {
        let c = min(progress[peer]?.match ?? 0, commit)
        send(Message(type: .heartbeat, from: id, to: peer, term: term, commit: c))
    }

    private func handleAppendResponse(_ m: Message) {
        guard var pr = progress[m.from] else { return }
        pr.recentActive = true
        if m.reject {
            if pr.decrease(rejected: m.index, hint: m.rejectHint) {
                if pr.state == .replicate { pr.becomeProbe() }
                progress[m.from] = pr
                sendAppend(to: m.from)
            } else {
                progress[m.from] = pr
            }
            return
        }
        let wasPaused = pr.isPaused(maxInflight: config.maxInflight)
        guard pr.update(m.index) else {
            progress[m.from] = pr
            return
        }
        switch pr.state {
        case .probe: pr.becomeReplicate()
        case .snapshot: if pr.match >= pr.pendingSnapshot { pr.becomeProbe(); pr.becomeReplicate() }
        case .replicate: pr.freeInflight(through: m.index)
        }
        progress[m.from] = pr
        if maybeCommit() {
            broadcastAppend()
        } else if wasPaused {
            sendAppend(to: m.from)
        }
        while sendAppend(to: m.from, sendIfEmpty: false) {}
    }

    private func handleHeartbeatResponse(_ m: Message) {
        guard var pr = progress[m.from] else { return }
        pr.recentActive = true
        pr.probeSent = false
        if pr.state == .replicate, pr.inflight.count >= config.maxInflight { pr.inflight.removeFirst() }
        progress[m.from] = pr
        if pr.match < log.lastIndex { sendAppend(to: m.from) }
    }

    /// Commits the highest index stored on a quorum of voters, if it is from the current term.
    private func maybeCommit() -> Bool {
        var matches: [UInt64] = []
        for v in membership.voters {
            matches.append(v == id ? log.stable : (progress[v]?.match ?? 0))
        }
        guard !matches.isEmpty else { return false }
        matches.sort(by: >)
        let candidate = matches[membership.quorum - 1]
        guard candidate > commit, log.term(candidate) == term else { return false }
        commit = candidate
        return true
    }

    private func applyMembership(_ m: Membership) {
        membership = m
        if role == .leader {
            for peer in m.all where peer != id && progress[peer] == nil { progress[peer] = Progress(next: log.lastIndex + 1) }
            for peer in progress.keys where !m.contains(peer) { progress[peer] = nil }
            if !m.isVoter(id) {
                becomeFollower(term: term, leader: nil)
            }
        }
    }

    private func send(_ m: Message) { messages.append(m) }
}
