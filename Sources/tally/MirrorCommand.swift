import ArgumentParser
import Federation
import Foundation
import Ledger
import Node
import Warehouse

struct MirrorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror",
        abstract: "Mirror non-PHI ledger facts and surveillance results into a PostgreSQL warehouse.",
        subcommands: [Run.self, Status.self]
    )

    static func results(_ node: NodeDirectory) throws -> SurveillanceResults {
        try SurveillanceResults(path: node.url.appendingPathComponent("results.sqlite").path)
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mirror until caught up (retrying with backoff while PostgreSQL is unavailable); --follow keeps mirroring new blocks.",
            discussion: "The connection string is libpq's (e.g. \"host=db.example port=5432 dbname=surveillance user=tally\" or postgresql://…); PG* environment variables apply as in psql."
        )
        @Option(help: "Node directory.") var node: String
        @Option(help: "PostgreSQL connection string.") var postgres: String = ""
        @Option(help: "Mirror name (one checkpoint per name).") var name: String = "default"
        @Flag(help: "Keep running, mirroring new blocks as they commit.") var follow = false
        @Option(help: "Seconds between polls with --follow.") var interval: Double = 10

        func run() throws {
            let dir = try NodeDirectory(node)
            let ledger = try dir.openLedger()
            let mirror = WarehouseMirror(ledger: ledger, results: try MirrorCommand.results(dir), conninfo: postgres, name: name)
            repeat {
                do {
                    let r = try mirror.run(log: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
                    let s = try mirror.status()
                    // For the node's /metrics (tally_mirror_lag_blocks): where this mirror stands.
                    let statusFile: JSON = ["mirror": .string(name), "ledger_height": .int(s.ledgerHeight), "at": .int(Clock.wallMillis())]
                    try? Data(statusFile.canonicalString.utf8).write(to: dir.url.appendingPathComponent("mirror-\(name).json"), options: .atomic)
                    print("mirrored \(r.blocks) blocks, \(r.policies) policy updates, \(r.votes) votes, \(r.auditEvents) audit events, \(r.results) results; checkpoint: height \(s.ledgerHeight), result \(s.lastResult)")
                } catch {
                    throw fail("\(error)")
                }
                if follow { Thread.sleep(forTimeInterval: interval) }
            } while follow
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the mirror's checkpoint beside the ledger head.")
        @Option(help: "Node directory.") var node: String
        @Option(help: "PostgreSQL connection string.") var postgres: String = ""
        @Option(help: "Mirror name.") var name: String = "default"

        func run() throws {
            let dir = try NodeDirectory(node)
            let ledger = try dir.openLedger()
            let results = try MirrorCommand.results(dir)
            let mirror = WarehouseMirror(ledger: ledger, results: results, conninfo: postgres, name: name)
            do {
                let s = try mirror.status()
                print("mirror \(name): ledger height \(s.ledgerHeight) of \(ledger.height); results \(s.lastResult) of \(results.count)")
            } catch {
                throw fail("\(error)")
            }
        }
    }
}
