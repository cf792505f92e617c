import ArgumentParser
import Foundation
import Node

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the demonstration consortium (currently: the single-node ledger scenario).",
        discussion: "Creates node directories under --dir (default: a fresh temporary folder), runs the scenario and prints what happens."
    )
    @Option(help: "Where to create the demo's node directories (must not exist yet).") var dir: String?
    @Flag(help: "Delete the demo directories afterwards.") var clean = false

    func run() throws {
        let root = URL(fileURLWithPath: dir ?? FileManager.default.temporaryDirectory.appendingPathComponent("tally-demo-\(ProcessInfo.processInfo.processIdentifier)").path)
        if FileManager.default.fileExists(atPath: root.path) { throw fail("\(root.path) already exists; choose another --dir") }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { if clean { try? FileManager.default.removeItem(at: root) } }
        let queries = ["Queries", URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("../../../Queries").standardized.path]
            .first { FileManager.default.fileExists(atPath: $0 + "/valuesets") }.map { URL(fileURLWithPath: $0) }
        let summary = try LedgerTour(root: root, queries: queries) { print($0) }.run()
        print("\n\(summary.verified && summary.proofChecked ? "demo complete" : "demo FAILED"): height \(summary.height), \(summary.transactions) transactions")
        if !(summary.verified && summary.proofChecked) { throw ExitCode(1) }
    }
}
