/// The in-memory log of a node: entries after the latest snapshot, and how much of it is on disk.
struct RaftLog {
    private(set) var snapshotIndex: UInt64
    private(set) var snapshotTerm: UInt64
    private(set) var entries: [Entry]
    /// Highest index known to be durable (the driver's `advance` moves it).
    var stable: UInt64
    /// First index that must be (re)written to storage; `lastIndex + 1` when nothing is pending.
    private(set) var unstableFrom: UInt64

    init(snapshotIndex: UInt64, snapshotTerm: UInt64, entries: [Entry]) {
        self.snapshotIndex = snapshotIndex
        self.snapshotTerm = snapshotTerm
        self.entries = entries
        let last = entries.last?.index ?? snapshotIndex
        stable = last
        unstableFrom = last + 1
    }

    var firstIndex: UInt64 { snapshotIndex + 1 }
    var lastIndex: UInt64 { entries.last?.index ?? snapshotIndex }
    var lastTerm: UInt64 { entries.last?.term ?? snapshotTerm }

    /// The term of the entry at `index`, or nil when it is compacted away or beyond the end.
    func term(_ index: UInt64) -> UInt64? {
        if index == snapshotIndex { return snapshotTerm }
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[Int(index - snapshotIndex - 1)].term
    }

    func entry(_ index: UInt64) -> Entry? {
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[Int(index - snapshotIndex - 1)]
    }

    func matches(index: UInt64, term t: UInt64) -> Bool { term(index) == t }

    func isUpToDate(lastIndex li: UInt64, lastTerm lt: UInt64) -> Bool {
        lt > lastTerm || (lt == lastTerm && li >= lastIndex)
    }

    /// Entries in `[from, to]`, at most `maxCount` and about `maxBytes` (always at least one).
    func slice(from: UInt64, to: UInt64, maxCount: Int, maxBytes: Int) -> [Entry] {
        guard from > snapshotIndex, from <= to, to <= lastIndex else { return [] }
        var out: [Entry] = []
        var bytes = 0
        var i = from
        while i <= to, out.count < maxCount {
            let e = entries[Int(i - snapshotIndex - 1)]
            bytes += e.data.count + 24
            if !out.isEmpty, bytes > maxBytes { break }
            out.append(e)
            i += 1
        }
        return out
    }

    mutating func append(_ e: Entry) {
        precondition(e.index == lastIndex + 1, "raft log gap: appending \(e.index) after \(lastIndex)")
        entries.append(e)
    }

    /// Appends entries from a leader, truncating a conflicting suffix first. Returns the index of the
    /// first entry that conflicted (for the caller's safety check), or nil.
    @discardableResult
    mutating func truncateAndAppend(_ new: [Entry]) -> UInt64? {
        guard !new.isEmpty else { return nil }
        // Skip entries already present with the same term.
        var k = 0
        while k < new.count, let t = term(new[k].index), t == new[k].term { k += 1 }
        guard k < new.count else { return nil }
        let from = new[k].index
        precondition(from > snapshotIndex, "raft: conflicting entry \(from) inside the snapshot \(snapshotIndex)")
        var conflict: UInt64?
        if from <= lastIndex {
            conflict = from
            entries.removeLast(Int(lastIndex - from + 1))
            stable = min(stable, from - 1)
        }
        unstableFrom = min(unstableFrom, from)
        for e in new[k...] { append(e) }
        return conflict
    }

    var unstable: [Entry] {
        guard unstableFrom <= lastIndex else { return [] }
        return Array(entries[Int(unstableFrom - snapshotIndex - 1)...])
    }

    mutating func markStable(through index: UInt64) {
        stable = max(stable, min(index, lastIndex))
        unstableFrom = max(unstableFrom, index + 1)
    }

    /// Replaces the whole log with a snapshot (a follower installing the leader's).
    mutating func restore(_ meta: SnapshotMeta) {
        snapshotIndex = meta.index
        snapshotTerm = meta.term
        entries = []
        stable = meta.index
        unstableFrom = meta.index + 1
    }

    /// Drops entries up to and including `index` (already applied and captured in a snapshot).
    mutating func compact(through index: UInt64) {
        guard index > snapshotIndex, let t = term(index) else { return }
        entries.removeFirst(Int(index - snapshotIndex))
        snapshotIndex = index
        snapshotTerm = t
    }
}

/// The leader's view of one follower's log.
struct Progress {
    enum State: String { case probe, replicate, snapshot }

    var match: UInt64 = 0
    var next: UInt64
    var state: State = .probe
    /// In probe state: one append is out and unanswered.
    var probeSent = false
    /// In replicate state: the last index of each unacknowledged append, oldest first.
    var inflight: [UInt64] = []
    var pendingSnapshot: UInt64 = 0
    var snapshotElapsed = 0
    var recentActive = false

    init(next: UInt64) { self.next = next }

    func isPaused(maxInflight: Int) -> Bool {
        switch state {
        case .probe: return probeSent
        case .replicate: return inflight.count >= maxInflight
        case .snapshot: return true
        }
    }

    mutating func becomeProbe() {
        if state == .snapshot {
            next = max(match + 1, pendingSnapshot + 1)
            pendingSnapshot = 0
        } else {
            next = match + 1
        }
        state = .probe
        probeSent = false
        inflight = []
    }

    mutating func becomeReplicate() {
        state = .replicate
        next = match + 1
        inflight = []
    }

    mutating func becomeSnapshot(_ index: UInt64) {
        state = .snapshot
        pendingSnapshot = index
        snapshotElapsed = 0
        inflight = []
    }

    /// A successful acknowledgement up to `n`. Returns whether `match` moved.
    mutating func update(_ n: UInt64) -> Bool {
        var moved = false
        if match < n {
            match = n
            moved = true
            probeSent = false
        }
        next = max(next, n + 1)
        return moved
    }

    /// A rejection of the append whose previous index was `rejected`. Returns false for stale rejections.
    mutating func decrease(rejected: UInt64, hint: UInt64) -> Bool {
        if state == .replicate {
            if rejected <= match { return false }
            next = match + 1
            return true
        }
        if next == 0 || next - 1 != rejected { return false }
        next = max(min(rejected, hint + 1), match + 1, 1)
        probeSent = false
        return true
    }

    mutating func freeInflight(through index: UInt64) {
        while let f = inflight.first, f <= index { inflight.removeFirst() }
    }
}
