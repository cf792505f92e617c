import Consensus
import Foundation
import Ledger
import Raft
import Testing
#if canImport(Glibc)
import Glibc
#endif

struct TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("tally-consensus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

func freePorts(_ n: Int) throws -> [UInt16] { try LoopbackPorts.reserve(n) }

/// Waits for a condition with a deadline (polling every 10 ms): bounded, never a fixed sleep.
func waitUntil(seconds: Double, _ cond: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if cond() { return true }
        usleep(10_000)
    }
    return cond()
}

final class Inbox: @unchecked Sendable {
    private let c = NSCondition()
    private(set) var items: [(String, PeerPayload)] = []
    func add(_ from: String, _ p: PeerPayload) { c.withLock { items.append((from, p)); c.broadcast() } }
    func wait(count: Int, seconds: Double) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        return c.withLock {
            while items.count < count { if !c.wait(until: end) { return items.count >= count } }
            return true
        }
    }
}

extension SubmitResult {
    var isCommitted: Bool { if case .committed = self { return true } else { return false } }
}

/// A consortium of in-process ClusterNodes on loopback ports, each with its own ledger and Raft files.
final class TestCluster {
    let dir: TempDir
    let genesis: Genesis
    let keys: [String: OrganisationKeys]
    let addresses: [String: PeerAddress]
    let snapshotEvery: UInt64
    var nodes: [String: ClusterNode] = [:]
    let signer: TransactionSigner

    /// `joining`: organisations not in the genesis that may be voted in later (keys, an address and
    /// a ledger file from the genesis, but no membership yet).
    init(voters: [String], learners: [String], joining: [String] = [], snapshotEvery: UInt64) throws {
        dir = try TempDir()
        self.snapshotEvery = snapshotEvery
        var k: [String: OrganisationKeys] = [:]
        var members: [Member] = []
        for id in voters + learners {
            k[id] = OrganisationKeys(org: id)
            members.append(Member(id: id, name: id, kind: learners.contains(id) ? .publicHealth : .hospital,
                                  signingKey: k[id]!.signing.publicKey.base64, encryptionKey: k[id]!.agreement.publicKeyBase64,
                                  voting: !learners.contains(id)))
        }
        for id in joining { k[id] = OrganisationKeys(org: id) }
        keys = k
        genesis = Genesis(chain: "cluster-test", time: Clock.wallMillis() - 1000, members: members)
        let everyone = members.map(\.id) + joining
        let ports = try freePorts(everyone.count)
        var a: [String: PeerAddress] = [:]
        for (i, id) in everyone.enumerated() { a[id] = PeerAddress(host: "127.0.0.1", port: ports[i]) }
        addresses = a
        for id in k.keys { _ = try Ledger.create(path: dir.path("\(id).ledger"), genesis: genesis) }
        signer = TransactionSigner(chain: genesis.chain, identity: voters[0], key: k[voters[0]]!.signing)
    }

    func start(_ ids: [String]) throws {
        for id in ids {
            var o = ClusterNode.Options()
            o.tickMillis = 20
            o.snapshotEvery = snapshotEvery
            let n = try ClusterNode(ledger: try Ledger(path: dir.path("\(id).ledger")), keys: keys[id]!, raftPath: dir.path("\(id).raft"),
                                    listen: addresses[id]!, peers: addresses, options: o)
            try n.start()
            nodes[id] = n
        }
    }

    func stop(_ id: String) {
        nodes[id]?.stop()
        nodes[id] = nil
    }

    func stopAll() { for id in Array(nodes.keys) { stop(id) } }

    func waitForLeader(excluding: Set<String> = []) -> String? {
        var found: String?
        _ = waitUntil(seconds: 20) {
            found = nodes.first { !excluding.contains($0.key) && $0.value.status.role == .leader && $0.value.status.applied == $0.value.status.lastIndex }?.key
            return found != nil
        }
        return found
    }

    func enrollment(_ i: Int) -> Transaction {
        signer.sign("identity.enroll", ["name": .string("user-\(i)"), "role": "physician", "key": .string(SigningKey().publicKey.base64)])
    }

    /// Writes through whichever node leads, following redirects (bounded).
    func write(_ i: Int) -> SubmitResult { submit(enrollment(i)) }

    /// Submits `tx` through whichever node leads, following redirects (bounded).
    func submit(_ tx: Transaction) -> SubmitResult {
        var last = SubmitResult.unknown("no leader")
        for _ in 0..<50 {
            guard let l = waitForLeader() else { return last }
            last = nodes[l]!.submit(tx.bytes)
            if case .notLeader = last { continue }
            return last
        }
        return last
    }

    func waitForConvergence() -> Bool {
        waitUntil(seconds: 30) {
            let hs = Set(nodes.values.map { $0.ledger.height })
            return hs.count == 1 && nodes.values.allSatisfy { $0.status.applied == $0.status.commit }
        }
    }

    func expectIdenticalLedgers(sourceLocation: SourceLocation = #_sourceLocation) {
        let ledgers = nodes.values.map(\.ledger)
        guard let first = ledgers.first else { return }
        for l in ledgers {
            #expect(l.height == first.height, sourceLocation: sourceLocation)
            #expect(l.head.hash == first.head.hash, sourceLocation: sourceLocation)
        }
    }
}
