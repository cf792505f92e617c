/// The pure Raft core's vocabulary. Nothing here does I/O, reads a clock or starts a task: a node is a
/// value-driven state machine fed with `tick()`, `step(_:)` and `propose(_:)`, and everything it wants
/// done comes back in a `Ready` batch (see `RaftNode`).

/// A node's name in the cluster: the consortium member's organisation id in a real node, `n1…n7` in the
/// simulator.
public typealias NodeID = String

public enum EntryKind: UInt8, Sendable, Equatable {
    /// Application data: a ledger block in a real node.
    case normal = 0
    /// A new membership (`Membership.encoded`), effective on this node once applied.
    case membership = 1
    /// The empty entry a new leader appends to commit entries of earlier terms.
    case empty = 2
}

public struct Entry: Sendable, Equatable {
    public var term: UInt64
    public var index: UInt64
    public var kind: EntryKind
    public var data: [UInt8]

    public init(term: UInt64, index: UInt64, kind: EntryKind = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }
}

/// The cluster's voters and learners (learners receive the log but never vote or campaign; a public-health
/// audit node is one).
public struct Membership: Sendable, Equatable, CustomStringConvertible {
    public private(set) var voters: [NodeID]
    public private(set) var learners: [NodeID]

    public init(voters: [NodeID], learners: [NodeID] = []) {
        self.voters = Array(Set(voters)).sorted()
        self.learners = Array(Set(learners).subtracting(voters)).sorted()
    }

    public var quorum: Int { voters.count / 2 + 1 }
    public func isVoter(_ id: NodeID) -> Bool { voters.contains(id) }
    public func contains(_ id: NodeID) -> Bool { voters.contains(id) || learners.contains(id) }
    public var all: [NodeID] { (voters + learners).sorted() }

    /// Single-server changes only: at most one voter added or removed (a learner's promotion counts as
    /// the one), so every majority of the old voters meets every majority of the new.
    public func canChange(to next: Membership) -> Bool {
        let old = Set(voters), new = Set(next.voters)
        return old.symmetricDifference(new).count <= 1 && !next.voters.isEmpty
    }

    public var description: String { "voters=[\(voters.joined(separator: ","))] learners=[\(learners.joined(separator: ","))]" }

    /// `v=a,b,c;l=d` — the payload of a membership entry.
    public var encoded: [UInt8] { Array("v=\(voters.joined(separator: ","));l=\(learners.joined(separator: ","))".utf8) }

    public init?(encoded bytes: [UInt8]) {
        guard let s = String(validating: bytes, as: UTF8.self) else { return nil }
        let parts = s.split(separator: ";", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].hasPrefix("v="), parts[1].hasPrefix("l=") else { return nil }
        let list = { (p: Substring) in p.dropFirst(2).split(separator: ",").map(String.init) }
        self.init(voters: list(parts[0]), learners: list(parts[1]))
    }
}

/// What must be on disk before a node sends anything that depends on it.
public struct HardState: Sendable, Equatable {
    public var term: UInt64
    public var vote: NodeID?
    public var commit: UInt64

    public init(term: UInt64 = 0, vote: NodeID? = nil, commit: UInt64 = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

public struct SnapshotMeta: Sendable, Equatable {
    public var index: UInt64
    public var term: UInt64
    public var membership: Membership

    public init(index: UInt64, term: UInt64, membership: Membership) {
        self.index = index
        self.term = term
        self.membership = membership
    }
}

/// The applied state up to `meta.index`. `data` is opaque to Raft: the simulator's key-value map, or a
/// ledger node's `(height, block hash)` from which a lagging replica fetches the blocks it lacks.
public struct Snapshot: Sendable, Equatable {
    public var meta: SnapshotMeta
    public var data: [UInt8]

    public init(meta: SnapshotMeta, data: [UInt8]) {
        self.meta = meta
        self.data = data
    }
}

public enum MessageType: String, Sendable, Equatable, CaseIterable {
    case preVote, preVoteResponse, vote, voteResponse
    case append, appendResponse, heartbeat, heartbeatResponse, snapshot
}

public struct Message: Sendable, Equatable, CustomStringConvertible {
    public var type: MessageType
    public var from: NodeID
    public var to: NodeID
    public var term: UInt64
    /// append: term of the entry at `index` (the one before `entries`); votes: the candidate's last log term.
    public var logTerm: UInt64 = 0
    /// append: index before `entries`; appendResponse: the follower's last matching index (or the
    /// rejected index); votes: the candidate's last log index.
    public var index: UInt64 = 0
    public var entries: [Entry] = []
    public var commit: UInt64 = 0
    public var reject: Bool = false
    /// appendResponse with `reject`: where the leader should probe next.
    public var rejectHint: UInt64 = 0
    public var snapshot: Snapshot?

    public init(type: MessageType, from: NodeID, to: NodeID, term: UInt64, logTerm: UInt64 = 0, index: UInt64 = 0,
                entries: [Entry] = [], commit: UInt64 = 0, reject: Bool = false, rejectHint: UInt64 = 0, snapshot: Snapshot? = nil) {
        self.type = type
        self.from = from
        self.to = to
        self.term = term
        self.logTerm = logTerm
        self.index = index
        self.entries = entries
        self.commit = commit
        self.reject = reject
        self.rejectHint = rejectHint
        self.snapshot = snapshot
    }

    /// One line, as the golden traces print it.
    public var description: String {
        var s = "\(from)->\(to) \(type.rawValue) term=\(term)"
        switch type {
        case .preVote, .vote: s += " last=\(logTerm)/\(index)"
        case .preVoteResponse, .voteResponse: s += reject ? " rejected" : " granted"
        case .append:
            s += " prev=\(logTerm)/\(index) commit=\(commit)"
            if !entries.isEmpty { s += " entries=[" + entries.map { "\($0.term)/\($0.index)\($0.kind == .normal ? "" : ":\($0.kind)")" }.joined(separator: " ") + "]" }
        case .appendResponse: s += reject ? " rejected=\(index) hint=\(rejectHint)" : " index=\(index)"
        case .heartbeat: s += " commit=\(commit)"
        case .heartbeatResponse: break
        case .snapshot: s += " snapshot=\(snapshot?.meta.term ?? 0)/\(snapshot?.meta.index ?? 0)"
        }
        return s
    }

    /// Rough wire size, for bounding messages and queues.
    public var approximateSize: Int { 64 + entries.reduce(0) { $0 + 24 + $1.data.count } + (snapshot?.data.count ?? 0) }
}

public enum Role: String, Sendable, Equatable {
    case follower, preCandidate, candidate, leader
}

public enum ProposalError: Error, Equatable, CustomStringConvertible {
    case notLeader(leader: NodeID?)
    case membershipChangePending
    case invalidMembershipChange(String)
    case tooLarge(bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .notLeader(let l): return "not the leader" + (l.map { " (the leader is \($0))" } ?? " (no leader known)")
        case .membershipChangePending: return "a membership change is still pending; try again once it is applied"
        case .invalidMembershipChange(let m): return "invalid membership change: \(m)"
        case .tooLarge(let b, let l): return "proposal of \(b) bytes exceeds the \(l)-byte limit"
        }
    }
}

/// What the driver must do, in this order: persist `snapshot`, `hardState` and `entries` (entries
/// replace anything in storage from `entries.first.index` on) and sync; then send `messages`; then
/// apply `committed` (and install `snapshot` into the state machine); then call `advance(_:)`.
public struct Ready: Sendable {
    public var hardState: HardState?
    public var snapshot: Snapshot?
    public var entries: [Entry]
    public var messages: [Message]
    public var committed: [Entry]

    public init(hardState: HardState?, snapshot: Snapshot?, entries: [Entry], messages: [Message], committed: [Entry]) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
        self.messages = messages
        self.committed = committed
    }

    public var isEmpty: Bool { hardState == nil && snapshot == nil && entries.isEmpty && messages.isEmpty && committed.isEmpty }
    /// True when there is something to make durable before `messages` may go out.
    public var needsSync: Bool { hardState != nil || snapshot != nil || !entries.isEmpty }
}

public struct RaftConfig: Sendable {
    public var id: NodeID
    /// Ticks without hearing from a leader before a follower campaigns (randomised in [n, 2n)).
    public var electionTicks: Int = 10
    public var heartbeatTicks: Int = 1
    public var preVote: Bool = true
    public var checkQuorum: Bool = true
    public var maxEntriesPerMessage: Int = 64
    public var maxBytesPerMessage: Int = 1 << 20
    /// Append messages a leader keeps unacknowledged per follower before it waits.
    public var maxInflight: Int = 64
    public var maxProposalBytes: Int = 8 << 20
    /// Committed entries handed out per `Ready`.
    public var maxApplyEntries: Int = 256
    /// Seeds the election-timeout randomisation (the only randomness in the core).
    public var seed: UInt64

    public init(id: NodeID, seed: UInt64) {
        self.id = id
        self.seed = seed
    }
}

/// SplitMix64: the core's (and the simulator's) deterministic randomness, without depending on the
/// ledger target.
public struct RaftRandom: Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    public mutating func below(_ n: UInt64) -> UInt64 { n == 0 ? 0 : next() % n }
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
