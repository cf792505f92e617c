import Consensus
import Foundation
import Ledger
import Raft
import Testing

@Suite struct RaftStoreTests {
    @Test func persistsReadiesAcrossReopen() throws {
        let dir = try TempDir()
        let path = dir.path("raft.sqlite")
        do {
            let s = try RaftStore(path: path)
            try s.bootstrap(Membership(voters: ["a", "b", "c"]))
            var r = Ready(hardState: HardState(term: 2, vote: "a", commit: 1), snapshot: nil,
                          entries: (1...4).map { Entry(term: 1, index: $0, data: [UInt8($0)]) }, messages: [], committed: [])
            try s.save(r)
            // A new leader's entries replace the suffix from index 3.
            r = Ready(hardState: HardState(term: 3, vote: "b", commit: 2), snapshot: nil, entries: [Entry(term: 3, index: 3, data: [9])],
                      messages: [], committed: [])
            try s.save(r)
        }
        let st = try RaftStore(path: path).load()
        #expect(st.hardState == HardState(term: 3, vote: "b", commit: 2))
        #expect(st.entries.map(\.index) == [1, 2, 3] && st.entries.last?.data == [9])
        #expect(st.membership == Membership(voters: ["a", "b", "c"]))
    }

    @Test func compactionKeepsTheSnapshotAndTheTail() throws {
        let dir = try TempDir()
        let s = try RaftStore(path: dir.path("raft.sqlite"))
        try s.save(Ready(hardState: nil, snapshot: nil, entries: (1...6).map { Entry(term: 1, index: $0) }, messages: [], committed: []))
        try s.compact(Snapshot(meta: SnapshotMeta(index: 4, term: 1, membership: Membership(voters: ["a"])), data: [1, 2]))
        let st = try s.load()
        #expect(st.snapshot?.meta.index == 4 && st.snapshot?.data == [1, 2])
        #expect(st.entries.map(\.index) == [5, 6])
    }
}

@Suite struct WireTests {
    @Test func payloadsRoundTrip() throws {
        var m = Message(type: .append, from: "a", to: "b", term: 7, logTerm: 6, index: 41, commit: 40)
        m.entries = [Entry(term: 7, index: 42, kind: .normal, data: [1, 2, 3]), Entry(term: 7, index: 43, kind: .membership, data: Membership(voters: ["a"]).encoded)]
        m.snapshot = Snapshot(meta: SnapshotMeta(index: 5, term: 2, membership: Membership(voters: ["a", "b"], learners: ["c"])), data: [4])
        for p in [PeerPayload.raft(m), .blockRequest(fromHeight: 9, maxBlocks: 64), .blockResponse(fromHeight: 9, blocks: [[1], [2, 3]])] {
            #expect(try PeerPayload(decoding: p.encoded) == p)
        }
    }

    @Test func truncatedOrPaddedFramesAreRefused() {
        let bytes = PeerPayload.raft(Message(type: .heartbeat, from: "a", to: "b", term: 1)).encoded
        for cut in [0, 1, 5, bytes.count - 1] {
            #expect(throws: (any Error).self) { try PeerPayload(decoding: Array(bytes.prefix(cut))) }
        }
        #expect(throws: (any Error).self) { try PeerPayload(decoding: bytes + [0]) }
        #expect(throws: (any Error).self) { try PeerPayload(decoding: [99]) }
    }
}

@Suite struct TransportTests {
    @Test func membersTalkStrangersAreRefused() throws {
        let a = OrganisationKeys(org: "a"), b = OrganisationKeys(org: "b"), mallory = OrganisationKeys(org: "m")
        let keys = ["a": a.signing.publicKey, "b": b.signing.publicKey]
        let ports = try freePorts(3)
        let got = Inbox()
        let ta = PeerTransport(chain: "c", me: "a", signing: a.signing, listen: PeerAddress(host: "127.0.0.1", port: ports[0]),
                               peers: ["b": PeerAddress(host: "127.0.0.1", port: ports[1])], trust: { keys[$0] }, onReceive: { _, _ in })
        let tb = PeerTransport(chain: "c", me: "b", signing: b.signing, listen: PeerAddress(host: "127.0.0.1", port: ports[1]),
                               peers: ["a": PeerAddress(host: "127.0.0.1", port: ports[0])], trust: { keys[$0] },
                               onReceive: { from, p in got.add(from, p) })
        // Mallory holds a key the consortium does not know, and claims to be "a".
        let tm = PeerTransport(chain: "c", me: "a", signing: mallory.signing, listen: PeerAddress(host: "127.0.0.1", port: ports[2]),
                               peers: ["b": PeerAddress(host: "127.0.0.1", port: ports[1])], trust: { keys[$0] }, onReceive: { _, _ in })
        try ta.start()
        try tb.start()
        try tm.start()
        defer { ta.stop(); tb.stop(); tm.stop() }
        for i in 0..<20 { ta.send(to: "b", .raft(Message(type: .heartbeat, from: "a", to: "b", term: UInt64(i)))) }
        tm.send(to: "b", .raft(Message(type: .heartbeat, from: "a", to: "b", term: 999)))
        #expect(got.wait(count: 20, seconds: 10))
        #expect(waitUntil(seconds: 10) { tb.stats.refusedHandshakes >= 1 })
        let terms = got.items.compactMap { if case .raft(let m) = $0.1 { return m.term } else { return nil } }
        #expect(terms == Array(0..<20), "delivered in order, nothing from the impostor")
        #expect(got.items.allSatisfy { $0.0 == "a" })
    }
}

/// In-process clusters on loopback: real transport, real storage, real ledgers.
@Suite(.serialized) struct ClusterTests {
    @Test func replicatesSurvivesLeaderLossAndCatchesUpALearnerFromASnapshot() throws {
        let c = try TestCluster(voters: ["hospital-a", "hospital-b", "hospital-c"], learners: ["public-health"], snapshotEvery: 5)
        defer { c.stopAll() }
        try c.start(["hospital-a", "hospital-b", "hospital-c"])
        let leader1 = try #require(c.waitForLeader())
        for i in 0..<40 { #expect(c.write(i).isCommitted) }

        // Lose the leader; the others elect a new one and keep committing.
        c.stop(leader1)
        let leader2 = try #require(c.waitForLeader(excluding: [leader1]))
        #expect(leader2 != leader1)
        for i in 40..<60 { #expect(c.write(i).isCommitted) }

        // The old leader restarts from its files; the learner starts late, after the log was compacted,
        // so it must fetch the blocks it lacks from a peer and verify each.
        try c.start([leader1, "public-health"])
        #expect(c.waitForConvergence(), "every node reaches the same height")
        c.expectIdenticalLedgers()
        let ph = c.nodes["public-health"]!.counters
        #expect(ph.snapshotsInstalled >= 1 && ph.blocksFetched >= 40, "the learner caught up from a snapshot by fetching blocks: \(ph)")
        #expect(c.nodes["public-health"]!.status.role == .follower)
        #expect(c.nodes["public-health"]!.status.membership.learners == ["public-health"])
        for (_, n) in c.nodes { #expect(try LedgerVerifier.verify(path: n.ledger.path, genesis: c.genesis).ok) }
        // Replicated nodes leave durability to the Raft log (synced before compaction, which ran here).
        for (_, n) in c.nodes { #expect(!n.ledger.syncsEveryBlock) }
    }

    /// Membership changes decided by the ledger's governance, not by whoever is connected: a fourth
    /// hospital is voted in (member.propose + member.vote), becomes a Raft voter, catches up and
    /// replicates; then a founder is voted out and the cluster goes on without it.
    @Test func membersVotedInAndOutByGovernanceJoinAndLeaveRaft() throws {
        let c = try TestCluster(voters: ["hospital-a", "hospital-b", "hospital-c"], learners: [], joining: ["hospital-d"], snapshotEvery: 20)
        defer { c.stopAll() }
        try c.start(["hospital-a", "hospital-b", "hospital-c"])
        _ = try #require(c.waitForLeader())
        for i in 0..<10 { #expect(c.write(i).isCommitted) }
        // hospital-d runs, but nobody talks to a non-member.
        try c.start(["hospital-d"])
        #expect(c.nodes["hospital-d"]!.ledger.height == 0)
        // hospital-a signs with the cluster's own signer (its nonces continue); hospital-b with its key.
        let signers = ["hospital-a": c.signer, "hospital-b": TransactionSigner(chain: c.genesis.chain, identity: "hospital-b", key: c.keys["hospital-b"]!.signing)]
        let d = c.keys["hospital-d"]!
        let member = Member(id: "hospital-d", name: "Hospital D", kind: .hospital, signingKey: d.signing.publicKey.base64, encryptionKey: d.agreement.publicKeyBase64)
        guard case .committed(let p) = c.submit(signers["hospital-a"]!.sign("member.propose", ["action": "add", "member": member.json])) else {
            Issue.record("the proposal was not committed"); return
        }
        let proposal = try #require(p.result["proposal"])
        #expect(c.submit(signers["hospital-b"]!.sign("member.vote", ["proposal": proposal, "approve": true])).isCommitted)
        // The leader reconciles Raft with the ledger; hospital-d becomes a voter and catches up.
        #expect(waitUntil(seconds: 30) { c.nodes.values.allSatisfy { $0.status.membership.voters.sorted() == ["hospital-a", "hospital-b", "hospital-c", "hospital-d"] } },
                "every node sees hospital-d as a voter")
        for i in 10..<20 { #expect(c.write(i).isCommitted) }
        #expect(c.waitForConvergence())
        c.expectIdenticalLedgers()
        #expect(c.nodes["hospital-d"]!.ledger.height > 0)

        // Voted out: hospital-c leaves Raft; three voters go on committing without it.
        guard case .committed(let p2) = c.submit(signers["hospital-a"]!.sign("member.propose", ["action": "remove", "member_id": "hospital-c"])) else {
            Issue.record("the removal was not committed"); return
        }
        let removal = try #require(p2.result["proposal"])
        #expect(c.submit(signers["hospital-b"]!.sign("member.vote", ["proposal": removal, "approve": true])).isCommitted)
        let dSigner = TransactionSigner(chain: c.genesis.chain, identity: "hospital-d", key: d.signing)
        #expect(c.submit(dSigner.sign("member.vote", ["proposal": removal, "approve": true])).isCommitted)
        #expect(waitUntil(seconds: 30) {
            ["hospital-a", "hospital-b", "hospital-d"].allSatisfy { c.nodes[$0]!.status.membership.voters.sorted() == ["hospital-a", "hospital-b", "hospital-d"] }
        }, "hospital-c is no longer a voter")
        c.stop("hospital-c")
        for i in 20..<30 { #expect(c.write(i).isCommitted) }
        #expect(waitUntil(seconds: 30) { Set(["hospital-a", "hospital-b", "hospital-d"].map { c.nodes[$0]!.ledger.height }).count == 1 })
        for id in ["hospital-a", "hospital-b", "hospital-d"] {
            #expect(try LedgerVerifier.verify(path: c.nodes[id]!.ledger.path, genesis: c.genesis).ok)
        }
    }

    @Test func followersRedirectAndBadTransactionsAreRefused() throws {
        let c = try TestCluster(voters: ["a", "b", "c"], learners: [], snapshotEvery: 100)
        defer { c.stopAll() }
        try c.start(["a", "b", "c"])
        let leader = try #require(c.waitForLeader())
        let follower = ["a", "b", "c"].first { $0 != leader }!
        let tx = c.enrollment(1)
        // A follower names the leader once it has heard from it.
        #expect(waitUntil(seconds: 10) { c.nodes[follower]!.status.leader == leader })
        guard case .notLeader(let hint) = c.nodes[follower]!.submit(tx.bytes) else {
            Issue.record("a follower accepted a write")
            return
        }
        #expect(hint == leader)
        #expect(c.nodes[leader]!.submit(tx.bytes).isCommitted)
        guard case .refused = c.nodes[leader]!.submit(tx.bytes) else {
            Issue.record("a replayed transaction was not refused")
            return
        }
        guard case .refused = c.nodes[leader]!.submit([1, 2, 3]) else {
            Issue.record("garbage was not refused")
            return
        }
    }
}
