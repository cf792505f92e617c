import Raft

/// A client operation: a write of `value` to `key`, or a read of `key`. `id` is unique per operation, so
/// a retried proposal applies once.
public struct Operation: Equatable, Sendable {
    public enum Kind: String, Sendable { case write = "w", read = "r" }
    public var id: UInt64
    public var kind: Kind
    public var key: String
    public var value: String

    var encoded: String { "\(id)|\(kind.rawValue)|\(key)|\(value)" }

    init(id: UInt64, kind: Kind, key: String, value: String) {
        self.id = id
        self.kind = kind
        self.key = key
        self.value = value
    }

    init?(line: Substring) {
        let p = line.split(separator: "|", omittingEmptySubsequences: false)
        guard p.count == 4, let id = UInt64(p[0]), let k = Kind(rawValue: String(p[1])) else { return nil }
        self.init(id: id, kind: k, key: String(p[2]), value: String(p[3]))
    }

    static func encode(_ ops: [Operation]) -> [UInt8] { Array(ops.map(\.encoded).joined(separator: "\n").utf8) }
    static func decode(_ bytes: [UInt8]) -> [Operation] {
        String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap(Operation.init(line:))
    }
}

/// The replicated state machine of the simulator: a key-value map whose every applied entry extends a
/// hash chain, standing in for the ledger's block chain.
struct KVStateMachine: Equatable {
    var values: [String: String] = [:]
    /// Operation id → its result (the value read, or "ok"), so a duplicate applies once.
    var results: [UInt64: String] = [:]
    var chain: UInt64 = 0xcbf2_9ce4_8422_2325
    var applied: UInt64 = 0

    /// Applies one committed entry; returns the operations that took effect for the first time, with results.
    mutating func apply(_ e: Entry) -> [(Operation, String)] {
        applied = e.index
        chain = fnv(chain, e.term, e.index, e.data)
        guard e.kind == .normal else { return [] }
        var out: [(Operation, String)] = []
        for op in Operation.decode(e.data) where results[op.id] == nil {
            let r: String
            switch op.kind {
            case .write: values[op.key] = op.value; r = "ok"
            case .read: r = values[op.key] ?? ""
            }
            results[op.id] = r
            out.append((op, r))
        }
        return out
    }

    var snapshotData: [UInt8] {
        var s = "\(chain) \(applied)\n"
        for (k, v) in values.sorted(by: { $0.key < $1.key }) { s += "v|\(k)|\(v)\n" }
        for (k, v) in results.sorted(by: { $0.key < $1.key }) { s += "r|\(k)|\(v)\n" }
        return Array(s.utf8)
    }

    init() {}

    init(snapshot: [UInt8]) {
        let lines = String(decoding: snapshot, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let head = lines.first?.split(separator: " ") ?? []
        chain = head.count == 2 ? UInt64(head[0]) ?? 0 : 0
        applied = head.count == 2 ? UInt64(head[1]) ?? 0 : 0
        for l in lines.dropFirst() where !l.isEmpty {
            let p = l.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false)
            guard p.count == 3 else { continue }
            if p[0] == "v" { values[String(p[1])] = String(p[2]) } else if let id = UInt64(p[1]) { results[id] = String(p[2]) }
        }
    }
}

func fnv(_ seed: UInt64, _ term: UInt64, _ index: UInt64, _ data: [UInt8]) -> UInt64 {
    var h = seed
    func mix(_ b: UInt8) { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    for s in stride(from: 0, to: 64, by: 8) { mix(UInt8(truncatingIfNeeded: term >> UInt64(s))); mix(UInt8(truncatingIfNeeded: index >> UInt64(s))) }
    for b in data { mix(b) }
    return h
}

/// What a node has on disk: the hard state, the latest snapshot and the log after it. `pending` holds
/// writes issued but not yet synced; a crash keeps a random prefix of them at most.
struct SimStorage {
    var hardState = HardState()
    var snapshot: Snapshot?
    var entries: [Entry] = []

    mutating func write(_ r: Ready) {
        if let s = r.snapshot {
            snapshot = s
            entries.removeAll { $0.index <= s.meta.index }
            if let f = entries.first, f.index != s.meta.index + 1 { entries = [] }
        }
        if let first = r.entries.first {
            entries.removeAll { $0.index >= first.index }
            entries.append(contentsOf: r.entries)
        }
        if let hs = r.hardState { hardState = hs }
    }

    mutating func compact(_ s: Snapshot) {
        snapshot = s
        entries.removeAll { $0.index <= s.meta.index }
    }
}
