import Consensus
import Foundation
import Ledger
import Node
import NodeAPI
import Testing

/// Three `tally node start` processes on loopback: writes under load, SIGKILL of the leader mid-load,
/// restart; no acknowledged transaction may be lost, and every ledger must verify and be identical.
@Suite(.serialized) struct ClusterProcessTests {
    final class NodeProcess {
        let org: String
        let dir: String
        let api: String
        var process: Process?
        init(org: String, dir: String, api: String) {
            self.org = org
            self.dir = dir
            self.api = api
        }

        func start(_ args: [String]) throws {
            let p = Process()
            p.executableURL = tallyExecutable()
            p.arguments = ["node", "start", "--dir", dir, "--tick-millis", "20"] + args
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            process = p
            var text = ""
            let h = out.fileHandleForReading
            while !text.contains("ready:") {
                let chunk = h.availableData
                if chunk.isEmpty { throw CLIFailure("\(org) exited before it was ready: \(text)") }
                text += String(decoding: chunk, as: UTF8.self)
            }
        }

        func kill(_ signal: Int32) {
            guard let p = process else { return }
            Foundation.kill(p.processIdentifier, signal)
            p.waitUntilExit()
            process = nil
        }

        func status() -> JSON? {
            guard let (code, body) = try? HTTP.request("GET", api, "/v1/status", timeout: 5), code == 200 else { return nil }
            return try? JSON.parse(Array(body.utf8))
        }
    }

    struct CLIFailure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    @Test func noAcknowledgedWriteIsLostWhenTheLeaderIsKilled() throws {
        let root = try temporaryDirectory("cluster")
        defer { try? FileManager.default.removeItem(at: root) }
        let orgs = ["hospital-a", "hospital-b", "hospital-c"]
        var members: [Member] = []
        var dirs: [String: NodeDirectory] = [:]
        for o in orgs {
            let d = try NodeDirectory.create(at: root.appendingPathComponent(o).path, org: o, kind: .hospital)
            dirs[o] = d
            members.append(try d.member())
        }
        let genesis = Genesis(chain: "cluster-process-test", time: Clock.wallMillis() - 1000, members: members)
        let secret = NodeDirectory.randomSecret()
        for o in orgs { try dirs[o]!.join(genesis: genesis, consortiumSecret: secret) }
        let ports = try LoopbackPorts.reserve(6)
        var built: [String: NodeProcess] = [:]
        var startArgs: [String: [String]] = [:]
        for (i, o) in orgs.enumerated() {
            built[o] = NodeProcess(org: o, dir: dirs[o]!.url.path, api: "127.0.0.1:\(ports[3 + i])")
            var args = ["--listen", "127.0.0.1:\(ports[i])", "--api", "127.0.0.1:\(ports[3 + i])"]
            for (j, p) in orgs.enumerated() where p != o { args += ["--peer", "\(p)=127.0.0.1:\(ports[j])/127.0.0.1:\(ports[3 + j])"] }
            startArgs[o] = args
        }
        let nodes = built
        defer { for n in nodes.values { n.kill(SIGTERM) } }
        for o in orgs { try nodes[o]!.start(startArgs[o]!) }

        func leader() -> String? {
            var found: String?
            _ = poll(seconds: 20) {
                found = orgs.first { nodes[$0]?.process != nil && nodes[$0]!.status()?["role"]?.stringValue == "leader" }
                return found != nil
            }
            return found
        }

        let signer = TransactionSigner(chain: genesis.chain, identity: "hospital-a", key: try dirs["hospital-a"]!.keys().signing)
        let acked = Acks()
        /// Sends one transaction to the current leader, retrying (bounded) through elections; records 200s.
        func write(_ i: Int) {
            let tx = signer.sign("identity.enroll", ["name": .string("clinician-\(i)"), "role": "physician", "key": .string(SigningKey().publicKey.base64)])
            for _ in 0..<40 {
                guard let l = leader(), let n = nodes[l] else { continue }
                guard let (code, _) = try? HTTP.request("POST", n.api, "/v1/transactions", body: tx.bytes, timeout: 10) else { continue }
                if code == 200 { acked.add(tx.hash); return }
                if code == 422 { return } // refused: a retry after an unknown outcome found it committed already
            }
        }

        _ = try #require(leader())
        DispatchQueue.concurrentPerform(iterations: 4) { w in for i in 0..<30 { write(w * 1000 + i) } }
        let before = acked.count
        #expect(before == 120)

        // Kill the leader while four writers are busy.
        let victim = try #require(leader())
        let killer = DispatchQueue(label: "killer")
        killer.asyncAfter(deadline: .now() + 0.2) { nodes[victim]!.kill(SIGKILL) }
        DispatchQueue.concurrentPerform(iterations: 4) { w in for i in 30..<80 { write(w * 1000 + i) } }
        killer.sync {}
        let newLeader = try #require(leader())
        #expect(newLeader != victim)

        // Restart the killed node from its files (cluster.json remembers its addresses); it catches up.
        try nodes[victim]!.start([])
        #expect(poll(seconds: 30) {
            let hs = orgs.compactMap { nodes[$0]!.status()?["height"]?.intValue }
            return hs.count == 3 && Set(hs).count == 1
        }, "all three nodes reach the same height")
        for o in orgs { nodes[o]!.kill(SIGTERM) }

        let hashes = acked.all
        #expect(hashes.count >= 200, "most writes were acknowledged (\(hashes.count))")
        var heads = Set<String>()
        for o in orgs {
            let ledger = try dirs[o]!.openLedger()
            heads.insert(ledger.head.hash.hex)
            var missing = 0
            for h in hashes where try ledger.receipt(h) == nil { missing += 1 }
            #expect(missing == 0, "\(o) lacks \(missing) acknowledged transactions")
            let report = try LedgerVerifier.verify(path: dirs[o]!.ledgerPath, genesis: genesis)
            #expect(report.ok, "\(o)'s ledger does not verify: \(String(describing: report.failure))")
        }
        #expect(heads.count == 1, "the three ledgers are identical")
    }
}

final class Acks: @unchecked Sendable {
    private let lock = NSLock()
    private var hashes: [Hash32] = []
    func add(_ h: Hash32) { lock.withLock { hashes.append(h) } }
    var count: Int { lock.withLock { hashes.count } }
    var all: [Hash32] { lock.withLock { hashes } }
}
