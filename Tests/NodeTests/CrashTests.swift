import Foundation
import Ledger
import Node
import Testing

/// The `tally` executable built next to this test bundle.
func tallyExecutable() -> URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tally")
}

/// Runs the tally CLI from the repository root; returns its exit status and its stdout and stderr together.
func runTally(_ args: [String], stdin: String? = nil) throws -> (status: Int32, out: String) {
    let p = Process()
    p.executableURL = tallyExecutable()
    p.arguments = args
    p.currentDirectoryURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    let input = Pipe()
    p.standardInput = input
    try p.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

func temporaryDirectory(_ tag: String) throws -> URL {
    let u = FileManager.default.temporaryDirectory.appendingPathComponent("tally-\(tag)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
    return u
}


@Suite struct CrashSafetyTests {
    /// Runs a node as a child process under a write load, SIGKILLs it at seeded random points, restarts
    /// it, and checks that every acknowledged transaction survived and the ledger verifies.
    @Test func everyAcknowledgedTransactionSurvivesSIGKILL() throws {
        let seed: UInt64 = 20261122
        var rng = SeededGenerator(seed: seed)
        let root = try temporaryDirectory("crash")
        defer { try? FileManager.default.removeItem(at: root) }
        let dir = root.appendingPathComponent("node").path
        let node = try NodeDirectory.create(at: dir, org: "general-hospital", kind: .hospital)
        try node.join(genesis: Genesis(chain: "crash-test", time: 1_790_000_000_000, members: [try node.member()]), consortiumSecret: NodeDirectory.randomSecret())

        var acknowledged: [Hash32] = []
        let kills = 24
        for round in 0..<kills {
            let p = Process()
            p.executableURL = tallyExecutable()
            let batch = Int.random(in: 1...64, using: &rng)
            p.arguments = ["ledger", "load", "--dir", dir, "--count", "1000000", "--batch", String(batch), "--seed", String(rng.next() >> 1)]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            // Kill after a seeded number of acknowledgements: the child is mid-way through later blocks.
            let killAfter = Int.random(in: 1...300, using: &rng)
            var buffer = Data()
            var acksThisRound = 0
            let handle = out.fileHandleForReading
            while acksThisRound < killAfter {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                acksThisRound = buffer.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            #expect(p.terminationReason == .uncaughtSignal, "round \(round): the child must have been killed, not have exited (reproduce with seed \(seed))")
            buffer.append(handle.readDataToEndOfFile())
            // Only complete lines are acknowledgements.
            let text = String(decoding: buffer, as: UTF8.self)
            for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() where line.hasPrefix("ACK ") {
                acknowledged.append(try #require(Hash32(hex: String(line.dropFirst(4)))))
            }
        }
        #expect(acknowledged.count > kills)

        // Restart: the ledger opens, verifies, and holds every acknowledged transaction.
        let ledger = try node.openLedger()
        var missing = 0
        for h in acknowledged where try ledger.receipt(h) == nil { missing += 1 }
        #expect(missing == 0, "\(missing) acknowledged transactions lost (reproduce with seed \(seed))")
        let report = try LedgerVerifier.verify(path: node.ledgerPath, genesis: try node.genesis())
        #expect(report.ok, "ledger does not verify after crashes: \(report.failure.map { "\($0)" } ?? "") (seed \(seed))")
        #expect(report.transactions >= Int64(acknowledged.count))
        // And the restarted node keeps committing.
        let solo = try SoloNode(directory: node)
        let out = try solo.submit([try solo.organisationSigner().sign("identity.enroll", ["name": "after-crash", "role": "analyst", "key": .string(SigningKey().publicKey.base64)])])
        #expect(out[0].receipt != nil)
    }
}

@Suite struct NodeDirectoryTests {
    @Test func secretKeysAreWrittenOwnerOnly() throws {
        let root = try temporaryDirectory("dir")
        defer { try? FileManager.default.removeItem(at: root) }
        let node = try NodeDirectory.create(at: root.appendingPathComponent("n").path, org: "city-medical", kind: .hospital)
        try node.join(genesis: Genesis(chain: "c", time: 1, members: [try node.member()]), consortiumSecret: NodeDirectory.randomSecret())
        for name in ["signing.key", "agreement.key", "consortium.secret"] {
            let attrs = try FileManager.default.attributesOfItem(atPath: node.url.appendingPathComponent("keys/\(name)").path)
            #expect((attrs[.posixPermissions] as? NSNumber)?.intValue == 0o600, "\(name)")
        }
        // Keys are never silently overwritten.
        #expect(throws: NodeDirectory.Error.self) { try NodeDirectory.create(at: node.url.path, org: "city-medical", kind: .hospital) }
        // A key readable by others is refused.
        chmod(node.url.appendingPathComponent("keys/signing.key").path, 0o644)
        #expect(throws: KeyFile.Error.self) { try node.keys() }
    }

    @Test func joiningRequiresTheGenesisToListThisDirectorysKeys() throws {
        let root = try temporaryDirectory("join")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = try NodeDirectory.create(at: root.appendingPathComponent("a").path, org: "general-hospital", kind: .hospital)
        let b = try NodeDirectory.create(at: root.appendingPathComponent("b").path, org: "general-hospital", kind: .hospital)
        let g = Genesis(chain: "c", time: 1, members: [try a.member()])
        #expect(throws: NodeDirectory.Error.self) { try b.join(genesis: g, consortiumSecret: NodeDirectory.randomSecret()) }
        try a.join(genesis: g, consortiumSecret: NodeDirectory.randomSecret())
        #expect(try a.openLedger().height == 0)
    }
}
