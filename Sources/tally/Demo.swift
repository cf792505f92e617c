import ArgumentParser
import Foundation
import Node

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a local consortium of node processes and the trial and surveillance queries.",
        discussion: """
        Starts six node processes on loopback ports (three custodians of different sizes, an insurer,
        a pharma sponsor, and public health as a non-voting audit node), loads a seeded synthetic
        population through the replicated ledger, has the custodians vote on the policies (one
        rejects the surveillance policy), runs the trial-eligibility and ILI queries, takes a node
        down, prints the audit trail, verifies every ledger and shuts everything down.
        Run it from the repository root (it reads Queries/ and Policies/).
          --solo   the single-node ledger tour instead: identities, encryption, consent, break-glass, proofs
        """
    )
    @Option(help: "Where to create the demo's node directories (must not exist yet).") var dir: String?
    @Flag(help: "Delete the demo directories afterwards.") var clean = false
    @Flag(help: "Run the single-node ledger tour instead of the consortium.") var solo = false

    func run() throws {
        let root = URL(fileURLWithPath: dir ?? FileManager.default.temporaryDirectory.appendingPathComponent("tally-demo-\(ProcessInfo.processInfo.processIdentifier)").path)
        if FileManager.default.fileExists(atPath: root.path) { throw fail("\(root.path) already exists; choose another --dir") }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { if clean { try? FileManager.default.removeItem(at: root) } }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let repo = [FileManager.default.currentDirectoryPath, URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("../../..").standardized.path]
            .first { FileManager.default.fileExists(atPath: $0 + "/Queries/valuesets") && FileManager.default.fileExists(atPath: $0 + "/Policies") }
        if solo {
            let summary = try LedgerTour(root: root, queries: repo.map { URL(fileURLWithPath: $0).appendingPathComponent("Queries") }) { print($0) }.run()
            print("\n\(summary.verified && summary.proofChecked ? "demo complete" : "demo FAILED"): height \(summary.height), \(summary.transactions) transactions")
            if !(summary.verified && summary.proofChecked) { throw ExitCode(1) }
            return
        }
        guard let repo else { throw fail("run the demo from the Tally repository root (it needs Queries/ and Policies/)") }
        setvbuf(stdout, nil, _IOLBF, 0)
        let summary = try ConsortiumDemo(root: root, repo: URL(fileURLWithPath: repo), executable: exe) { print($0) }.run()
        let ok = summary.verified && summary.identicalHeads
        print("\n\(ok ? "demo complete" : "demo FAILED"): \(summary.queries) federated queries, \(summary.claims) claims verified, ledger height \(summary.height) on every node")
        if !ok { throw ExitCode(1) }
    }
}
