import Raft

/// Runs a small script against an in-memory cluster and prints what happens — the messages each
/// delivery carries, role changes and applied entries — so a reader can follow the algorithm without a
/// debugger (after etcd's datadriven interaction tests). Writes are durable at once; messages wait in a
/// queue until `deliver`.
///
///     cluster voters=n1,n2,n3 learners=n4   a new cluster (election timeout 10 ticks, no randomness)
///     campaign n1                          n1 starts an election now
///     tick n1 n2 [x5]                      ticks nodes, five times each
///     propose n1 DATA                      n1 proposes an entry
///     membership n1 voters=… learners=…    n1 proposes a membership change
///     deliver [n2]                         delivers queued messages (to n2 only) until none are left
///     drop [n2]                            discards queued messages (to n2 only)
///     partition n1 | n2 n3                 cuts the cluster in two; `heal` rejoins it
///     isolate-inbound n1                   messages to n1 are lost; n1's still arrive
///     crash n2 / restart n2                stop a node / start it from its disk
///     compact n1                           n1 snapshots its applied state and drops its log
///     status                               each node's role, term, leader, commit and log
public final class Interaction {
    final class Node {
        var raft: RaftNode
        var storage = SimStorage()
        var up = true
        var values: [String] = []
        let initial: Membership
        init(raft: RaftNode, initial: Membership) {
            self.raft = raft
            self.initial = initial
        }
    }

    private var nodes: [NodeID: Node] = [:]
    private var order: [NodeID] = []
    private var queue: [Message] = []
    private var blocked = Set<String>()
    private var out: [String] = []
    private var electionTicks = 10

    public init() {}

    /// Runs `script` and returns it with each command's output under it.
    public static func run(_ script: String) -> String {
        let i = Interaction()
        var lines: [String] = []
        for raw in script.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.hasPrefix("> ") {
                lines.append(line)
                lines.append(contentsOf: i.execute(String(line.dropFirst(2))).map { "  " + $0 })
            } else if line.hasPrefix("#") || line.allSatisfy { $0 == " " } {
                lines.append(line)
            }
        }
        while lines.last == "" { lines.removeLast() }
        return lines.joined(separator: "\n") + "\n"
    }

    func execute(_ command: String) -> [String] {
        out = []
        let words = command.split(separator: " ").map(String.init)
        guard let verb = words.first else { return [] }
        let args = Array(words.dropFirst())
        let before = roles()
        switch verb {
        case "cluster":
            var voters: [String] = [], learners: [String] = []
            for a in args {
                if a.hasPrefix("voters=") { voters = a.dropFirst(7).split(separator: ",").map(String.init) }
                if a.hasPrefix("learners=") { learners = a.dropFirst(9).split(separator: ",").map(String.init) }
                if a.hasPrefix("election=") { electionTicks = Int(a.dropFirst(9)) ?? 10 }
            }
            let m = Membership(voters: voters, learners: learners)
            order = m.all
            for id in order { nodes[id] = Node(raft: makeRaft(id, initial: m, storage: nil), initial: m) }
            out.append("\(m)")
        case "campaign":
            for id in args { node(id)?.raft.campaign(); drain(id) }
        case "tick":
            var times = 1
            var ids: [String] = []
            for a in args { if a.hasPrefix("x"), let n = Int(a.dropFirst()) { times = n } else { ids.append(a) } }
            for _ in 0..<times { for id in ids where node(id)?.up == true { node(id)!.raft.tick(); drain(id) } }
        case "propose":
            guard args.count >= 2, let n = node(args[0]) else { return ["usage: propose NODE DATA"] }
            do { try n.raft.propose(Array(args[1...].joined(separator: " ").utf8)) } catch { out.append("refused: \(error)") }
            drain(args[0])
        case "membership":
            guard let id = args.first, let n = node(id) else { return ["usage: membership NODE voters=… learners=…"] }
            var voters: [String] = [], learners: [String] = []
            for a in args.dropFirst() {
                if a.hasPrefix("voters=") { voters = a.dropFirst(7).split(separator: ",").map(String.init) }
                if a.hasPrefix("learners=") { learners = a.dropFirst(9).split(separator: ",").map(String.init) }
            }
            do { try n.raft.proposeMembership(Membership(voters: voters, learners: learners)) } catch { out.append("refused: \(error)") }
            drain(id)
        case "deliver":
            deliver(to: args.first)
        case "drop":
            let n = queue.count
            queue.removeAll { args.isEmpty || $0.to == args[0] }
            out.append("dropped \(n - queue.count) message(s)")
        case "partition":
            let sides = args.split(separator: "|").map(Set.init)
            guard sides.count == 2 else { return ["usage: partition A B | C D"] }
            for a in sides[0] { for b in sides[1] { blocked.insert("\(a)>\(b)"); blocked.insert("\(b)>\(a)") } }
        case "isolate-inbound":
            for a in args { for b in order where b != a { blocked.insert("\(b)>\(a)") } }
        case "heal":
            blocked = []
        case "crash":
            for id in args { node(id)?.up = false; queue.removeAll { $0.to == id } }
        case "restart":
            for id in args {
                guard let n = node(id) else { continue }
                n.raft = makeRaft(id, initial: n.initial, storage: n.storage)
                n.values = []
                n.up = true
                drain(id)
            }
        case "compact":
            for id in args {
                guard let n = node(id) else { continue }
                let applied = n.raft.applied
                let data = Array(n.values.joined(separator: ",").utf8)
                n.raft.compact(through: applied, data: data)
                n.storage.compact(Snapshot(meta: SnapshotMeta(index: applied, term: n.raft.term(at: applied) ?? 0, membership: n.raft.membership), data: data))
                out.append("\(id) compacted through \(applied)")
            }
        case "status":
            for id in order {
                guard let n = nodes[id] else { continue }
                let s = n.raft.status
                let log = n.raft.logEntries.map { "\($0.term)/\($0.index)" }.joined(separator: " ")
                out.append("\(s)\(n.up ? "" : " (down)") log=[\(log)] snapshot=\(s.snapshotIndex) applied-values=[\(n.values.joined(separator: ","))]")
            }
        default:
            out.append("unknown command \(verb)")
        }
        for id in order where verb != "deliver" {
            guard let (r, t) = roles()[id], let b = before[id] else { continue }
            if r != b.0 { out.append("\(id) is \(r.rawValue) at term \(t)") }
        }
        return out
    }

    private func node(_ id: String) -> Node? {
        if nodes[id] == nil { out.append("no node \(id)") }
        return nodes[id]
    }

    private func roles() -> [NodeID: (Role, UInt64)] {
        nodes.mapValues { ($0.raft.role, $0.raft.term) }
    }

    private func makeRaft(_ id: NodeID, initial: Membership, storage: SimStorage?) -> RaftNode {
        var c = RaftConfig(id: id, seed: id.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) })
        c.electionTicks = electionTicks
        return RaftNode(config: c, hardState: storage?.hardState ?? HardState(), snapshot: storage?.snapshot,
                        initialMembership: initial, entries: storage?.entries ?? [], applied: storage?.snapshot?.meta.index ?? 0)
    }

    /// Persists, queues messages and applies entries until the node has nothing ready.
    private func drain(_ id: NodeID) {
        guard let n = nodes[id], n.up else { return }
        while n.raft.hasReady {
            let r = n.raft.ready()
            n.storage.write(r)
            queue.append(contentsOf: r.messages)
            if let s = r.snapshot {
                n.values = String(decoding: s.data, as: UTF8.self).split(separator: ",").map(String.init)
                out.append("\(id) installed snapshot \(s.meta.term)/\(s.meta.index) (\(s.meta.membership))")
            }
            for e in r.committed {
                switch e.kind {
                case .normal:
                    let v = String(decoding: e.data, as: UTF8.self)
                    n.values.append(v)
                    out.append("\(id) applied \(e.term)/\(e.index) \(v)")
                case .membership:
                    out.append("\(id) applied \(e.term)/\(e.index) membership \(Membership(encoded: e.data).map(\.description) ?? "?")")
                case .empty:
                    out.append("\(id) applied \(e.term)/\(e.index) (empty)")
                }
            }
            n.raft.advance(r)
        }
    }

    private func deliver(to target: String?) {
        var rounds = 0
        while rounds < 10_000 {
            guard let k = queue.firstIndex(where: { target == nil || $0.to == target }) else { return }
            let m = queue.remove(at: k)
            rounds += 1
            guard let n = nodes[m.to], n.up else {
                out.append("\(m) (lost: \(m.to) is down)")
                continue
            }
            if blocked.contains("\(m.from)>\(m.to)") {
                out.append("\(m) (lost: partitioned)")
                continue
            }
            out.append(m.description)
            let before = (n.raft.role, n.raft.term)
            n.raft.step(m)
            if n.raft.role != before.0 { out.append("\(m.to) is \(n.raft.role.rawValue) at term \(n.raft.term)") }
            drain(m.to)
        }
    }
}
