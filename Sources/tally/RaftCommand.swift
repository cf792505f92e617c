import ArgumentParser
import Dispatch
import Foundation
import Raft
import RaftSim

struct RaftCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raft",
        abstract: "Consensus tools: the deterministic cluster simulator and interaction traces.",
        subcommands: [Sim.self, Trace.self]
    )

    struct Sim: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sim",
            abstract: "Run seeded cluster simulations (faults, then liveness) and check Raft's invariants.",
            discussion: """
            Each seed picks 3, 5 or 7 voters plus a learner, then drops, delays, duplicates and reorders
            messages, partitions the network (also one-way), crashes nodes losing unsynced writes, restarts
            them, drifts their clocks and changes membership; then faults stop and the cluster must converge.
            A failing seed prints the line that replays it. Examples:
              tally raft sim --seed 7                  replay one seed, with its report
              tally raft sim --from 1 --count 10000    the documented long run (build with -c release)
            """
        )

        @Option(help: "Run this one seed.") var seed: UInt64?
        @Option(help: "First seed of a range.") var from: UInt64 = 1
        @Option(help: "Number of seeds.") var count: Int = 100
        @Option(help: "Parallel simulations (each is single-threaded and deterministic).") var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
        @Flag(help: "Short phases (6 s of faults, 10 s of liveness), as `swift test` runs them.") var short = false
        @Flag(help: "Print every seed's report, not only failures.") var verbose = false

        func run() throws {
            var options = Simulator.Options()
            if short {
                options.safetyMillis = 6_000
                options.livenessMillis = 10_000
            }
            let seeds: [UInt64] = seed.map { [$0] } ?? (0..<UInt64(max(count, 0))).map { from + $0 }
            let started = Date()
            let progress = ProgressCounter(total: seeds.count, quiet: seeds.count < 50)
            let reports = Simulator.runMany(seeds: seeds, options: options, jobs: jobs) { progress.tick() }
            var failed = 0
            var committed: UInt64 = 0, acked = 0, crashes = 0, partitions = 0, snapshots = 0, changes = 0, elections = 0
            for r in reports {
                committed += r.committedEntries
                acked += r.acknowledged
                crashes += r.crashes
                partitions += r.partitions
                snapshots += r.snapshotsSent
                changes += r.membershipChanges
                elections += r.elections
                if r.failure != nil || verbose || seed != nil { print(r) }
                if r.failure != nil {
                    failed += 1
                    print("reproduce with: swift run -c release tally raft sim --seed \(r.seed)\(short ? " --short" : "")")
                }
            }
            let secs = Date().timeIntervalSince(started)
            print("\(seeds.count) seed(s), \(failed) failed, \(String(format: "%.1f", secs)) s: \(committed) entries committed, "
                  + "\(acked) client operations acknowledged, \(elections) leaders, \(crashes) crashes, \(partitions) partitions, "
                  + "\(changes) membership changes, \(snapshots) snapshots sent")
            if failed > 0 { throw ExitCode(1) }
        }
    }

    struct Trace: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "trace",
            abstract: "Run an interaction script (the format of Tests/RaftTests/Traces) and print what happens."
        )
        @Argument(help: "Script file; lines starting with '> ' are commands.") var file: String

        func run() throws {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw fail("cannot read \(file)") }
            print(Interaction.run(text), terminator: "")
        }
    }
}

/// Prints `done/total` to stderr about every 5 %, from many threads.
final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    private let total: Int
    private let quiet: Bool
    init(total: Int, quiet: Bool) {
        self.total = total
        self.quiet = quiet
    }
    func tick() {
        lock.lock()
        done += 1
        let d = done
        lock.unlock()
        if !quiet, d % max(1, total / 20) == 0 { FileHandle.standardError.write(Data("  \(d)/\(total) seeds\n".utf8)) }
    }
}
