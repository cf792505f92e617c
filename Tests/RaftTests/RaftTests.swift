import Foundation
import Raft
@testable import RaftSim
import Testing

/// Golden traces: each script in Traces/ is run and must print exactly what the file holds.
/// `TALLY_UPDATE_GOLDEN=1 swift test --filter RaftTraces` rewrites them after a deliberate change.
@Suite struct RaftTraces {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Traces")
    static let names = ["election", "prevote", "check_quorum", "log_repair", "snapshot", "membership"]

    @Test(arguments: names)
    func trace(_ name: String) throws {
        let url = Self.folder.appendingPathComponent("\(name).txt")
        let expected = try String(contentsOf: url, encoding: .utf8)
        let actual = Interaction.run(expected)
        if ProcessInfo.processInfo.environment["TALLY_UPDATE_GOLDEN"] == "1" {
            try actual.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        #expect(actual == expected, "trace \(name) changed; run with TALLY_UPDATE_GOLDEN=1 to accept and review the diff")
    }

    @Test func everyTraceIsListed() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { $0.hasSuffix(".txt") }
        #expect(Set(files.map { String($0.dropLast(4)) }) == Set(Self.names))
    }
}

@Suite struct RaftCore {
    func node(_ id: String, voters: [String] = ["a"], learners: [String] = []) -> RaftNode {
        RaftNode(config: RaftConfig(id: id, seed: 1), snapshot: nil, initialMembership: Membership(voters: voters, learners: learners))
    }

    /// Drives a single-voter node until it has nothing ready, returning what it applied.
    func drain(_ n: RaftNode) -> [Entry] {
        var applied: [Entry] = []
        while n.hasReady {
            let r = n.ready()
            applied += r.committed
            n.advance(r)
        }
        return applied
    }

    @Test func singleVoterElectsItselfAndCommits() throws {
        let n = node("a")
        n.campaign()
        #expect(n.role == .leader && n.term == 1)
        _ = drain(n)
        try n.propose(Array("x".utf8))
        let applied = drain(n)
        #expect(applied.map(\.data) == [Array("x".utf8)])
        #expect(n.commit == 2 && n.applied == 2)
    }

    @Test func followersRefuseProposalsNamingTheLeader() {
        let n = node("b", voters: ["a", "b", "c"])
        #expect(throws: ProposalError.notLeader(leader: nil)) { try n.propose([1]) }
    }

    @Test func oversizedProposalIsRefused() {
        var c = RaftConfig(id: "a", seed: 1)
        c.maxProposalBytes = 10
        let n = RaftNode(config: c, snapshot: nil, initialMembership: Membership(voters: ["a"]))
        n.campaign()
        #expect(throws: ProposalError.tooLarge(bytes: 11, limit: 10)) { try n.propose(Array(repeating: 0, count: 11)) }
    }

    @Test func membershipChangesAreSingleServerAndOneAtATime() throws {
        let m = Membership(voters: ["a", "b", "c"])
        #expect(m.canChange(to: Membership(voters: ["a", "b", "c", "d"])))
        #expect(m.canChange(to: Membership(voters: ["a", "b"], learners: ["c"])))
        #expect(!m.canChange(to: Membership(voters: ["a"])))
        #expect(!m.canChange(to: Membership(voters: ["a", "b", "d"])))
        #expect(Membership(encoded: m.encoded) == m)
        let n = node("a")
        n.campaign()
        // A new leader must apply an entry of its term before changing membership.
        #expect(throws: ProposalError.membershipChangePending) { try n.proposeMembership(Membership(voters: ["a"], learners: ["l"])) }
        _ = drain(n)
        try n.proposeMembership(Membership(voters: ["a"], learners: ["l"]))
        #expect(throws: ProposalError.membershipChangePending) { try n.proposeMembership(Membership(voters: ["a"])) }
        _ = drain(n)
        #expect(n.membership.learners == ["l"])
    }

    @Test func restartReappliesCommittedEntriesAfterTheSnapshot() throws {
        let n = node("a")
        n.campaign()
        var storage = SimStorage()
        func run() { while n.hasReady { let r = n.ready(); storage.write(r); n.advance(r) } }
        run()
        for i in 0..<5 { try n.propose([UInt8(i)]) }
        run()
        let again = RaftNode(config: RaftConfig(id: "a", seed: 2), hardState: storage.hardState, snapshot: nil,
                             initialMembership: Membership(voters: ["a"]), entries: storage.entries, applied: 0)
        #expect(again.term == 1 && again.commit == 6)
        let r = again.ready()
        #expect(r.committed.map(\.index) == Array(1...6))
    }
}

/// Seeded whole-cluster runs. `swift test` runs a few hundred short seeds; `tally raft-sim --count 10000`
/// runs the long ones (Docs/CONSENSUS.md).
@Suite struct RaftSimulation {
    static var seedCount: Int { Int(ProcessInfo.processInfo.environment["TALLY_SIM_SEEDS"] ?? "") ?? 200 }

    @Test func seeds() {
        var options = Simulator.Options()
        options.safetyMillis = 6_000
        options.livenessMillis = 10_000
        var failures: [String] = []
        var committed: UInt64 = 0, acked = 0, crashes = 0, snapshots = 0, changes = 0
        let reports = Simulator.runMany(seeds: Array(1...UInt64(Self.seedCount)), options: options,
                                        jobs: ProcessInfo.processInfo.activeProcessorCount)
        for r in reports {
            committed += r.committedEntries
            acked += r.acknowledged
            crashes += r.crashes
            snapshots += r.snapshotsSent
            changes += r.membershipChanges
            if let f = r.failure {
                failures.append("seed \(r.seed): \(f)\nreproduce with: swift run tally raft sim --seed \(r.seed) --short")
            }
        }
        #expect(reports.count == Self.seedCount)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        // The runs must actually exercise the machinery they claim to check.
        #expect(committed > UInt64(Self.seedCount) * 20)
        #expect(acked > Self.seedCount * 20)
        #expect(crashes > Self.seedCount / 2)
        #expect(snapshots > 0)
        #expect(changes > 0)
    }

    @Test func sameSeedSameRun() {
        var options = Simulator.Options()
        options.safetyMillis = 3_000
        options.livenessMillis = 5_000
        let a = Simulator(seed: 42, options: options).run().description
        let b = Simulator(seed: 42, options: options).run().description
        #expect(a == b)
    }
}
