import ArgumentParser
import Foundation
import Ledger
import Node

struct Tally: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tally",
        abstract: "Tally: federated analytics for healthcare consortia — counts, never records.",
        subcommands: [DemoCommand.self, InitCommand.self, GenesisCommand.self, LedgerCommand.self, SQLCommand.self, ViewsCommand.self, QueryCommand.self, IngestCommand.self, SynthCommand.self, MirrorCommand.self, PolicyCommand.self, RaftCommand.self, NodeCommand.self, SurveillanceCommand.self, CohortCommand.self, IdentityCommand.self, ConsentCommand.self, AccessCommand.self, ClaimCommand.self, AnchorCommand.self]
    )
}

/// Errors meant for the person at the terminal: printed as one line, exit code 1 (2 for usage).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode(1)
}

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a node directory (keys and member entry), or join it to a consortium.",
        discussion: """
        Three ways to use it:
          tally init --org ORG --dir DIR --kind hospital          keys + member.json (share member.json)
          tally init --dir DIR --genesis FILE --consortium-secret FILE   join: install genesis, create ledger
          tally init --org ORG --dir DIR --solo                   a one-member consortium for development
        Secret keys are written with mode 0600.
        """
    )

    @Option(help: "Organisation id (lowercase, digits, '-').") var org: String?
    @Option(help: "Node directory.") var dir: String
    @Option(help: "Display name of the organisation.") var name: String?
    @Option(help: "Member kind: \(MemberKind.allCases.map(\.rawValue).joined(separator: ", ")).") var kind: String = "hospital"
    @Flag(help: "A non-voting (audit) member.") var nonVoting = false
    @Option(help: "Consortium genesis file to join.") var genesis: String?
    @Option(help: "File holding the consortium's pseudonym secret (base64), with --genesis.") var consortiumSecret: String?
    @Flag(help: "Create a one-member consortium and its ledger at once.") var solo = false

    func run() throws {
        do {
            if let genesisPath = genesis {
                let node = FileManager.default.fileExists(atPath: dir + "/config.json") ? try NodeDirectory(dir) : try create()
                let g = try Genesis.load(path: genesisPath)
                guard let secretPath = consortiumSecret else { throw CLIError("--genesis needs --consortium-secret FILE (written by `tally genesis`)") }
                try node.join(genesis: g, consortiumSecret: try KeyFile.read(secretPath))
                print("joined consortium \(g.chain) as \(node.org); ledger at \(node.ledgerPath)")
                return
            }
            let node = try create()
            if solo {
                let g = Genesis(chain: "\(node.org)-solo", time: Clock.wallMillis(), members: [try node.member()])
                try node.join(genesis: g, consortiumSecret: NodeDirectory.randomSecret())
                print("created solo consortium \(g.chain) in \(dir)")
            } else {
                print("created node directory \(dir) for \(node.org)")
                print("share \(node.memberPath) with the consortium; then: tally init --dir \(dir) --genesis GENESIS --consortium-secret SECRET")
            }
        } catch let e as CLIError { throw fail(e.description) } catch let e as NodeDirectory.Error { throw fail(e.description) }
    }

    func create() throws -> NodeDirectory {
        guard let org else { throw CLIError("--org is required to create a node directory") }
        guard let k = MemberKind(rawValue: kind) else { throw CLIError("unknown kind \(kind)") }
        return try NodeDirectory.create(at: dir, org: org, name: name, kind: k, voting: !nonVoting)
    }
}

struct GenesisCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "genesis",
        abstract: "Write a consortium genesis file from the founding members' member.json files.",
        discussion: "Also writes OUT.secret, the consortium pseudonym secret (mode 0600), to hand to each member out of band."
    )
    @Option(help: "Consortium (chain) id.") var chain: String
    @Option(help: "Output genesis file.") var out: String
    @Option(help: "k-anonymity floor no policy may go below.") var kFloor: Int64 = 11
    @Argument(help: "member.json files of the founding members.") var members: [String]

    func run() throws {
        var ms: [Member] = []
        for path in members {
            guard let d = FileManager.default.contents(atPath: path) else { throw fail("cannot read \(path)") }
            do { ms.append(try Member(json: JSON.parse(Array(d)))) } catch { throw fail("\(path): \(error)") }
        }
        var params = ConsortiumParams()
        params.kFloor = kFloor
        let g = Genesis(chain: chain, time: Clock.wallMillis(), params: params, members: ms)
        do { _ = try Genesis(json: g.json) } catch { throw fail("\(error)") }
        try Data((g.json.pretty() + "\n").utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
        try KeyFile.write(NodeDirectory.randomSecret(), to: out + ".secret")
        print("wrote \(out) (\(ms.count) members, genesis hash \(g.hash.hex.prefix(16))…) and \(out).secret")
    }
}

struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Inspect, verify and prove the ledger.",
        subcommands: [Verify.self, Prove.self, CheckProof.self, Consistency.self, Status.self, Load.self]
    )

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Recompute every hash, root, signature and state row from genesis.")
        @Option(help: "Node directory.") var dir: String
        @Option(help: "Genesis file to trust (default: DIR/genesis.json).") var genesis: String?

        func run() throws {
            let node = try NodeDirectory(dir)
            let g = try genesis.map(Genesis.load(path:)) ?? node.genesis()
            let tty = isatty(STDERR_FILENO) == 1
            let r = try LedgerVerifier.verify(path: node.ledgerPath, genesis: g) { h, top in
                if tty && (h % 100 == 0 || h == top) { FileHandle.standardError.write(Data("\rverifying block \(h)/\(top)".utf8)) }
            }
            if tty { FileHandle.standardError.write(Data("\n".utf8)) }
            if let f = r.failure {
                print("FAILED: \(f.height >= 0 ? "block \(f.height)" : "ledger"): \(f.reason)")
                throw ExitCode(3)
            }
            print("ok: \(r.blocks) blocks (height \(r.height)), \(r.transactions) transactions, \(r.stateKeys) state keys")
            print("ledger root \(r.ledgerRoot.hex)")
        }
    }

    struct Prove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print an inclusion proof for a transaction, checkable offline with `tally ledger check-proof`.")
        @Option(help: "Node directory.") var dir: String
        @Argument(help: "Transaction hash (hex).") var txhash: String

        func run() throws {
            guard let h = Hash32(hex: txhash) else { throw fail("not a transaction hash: \(txhash)") }
            let ledger = try NodeDirectory(dir).openLedger()
            do { print(try ledger.inclusionProof(for: h).json.pretty()) } catch let e as LedgerError { throw fail(e.description) }
        }
    }

    struct CheckProof: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "check-proof", abstract: "Check an inclusion proof offline against a genesis file.")
        @Option(help: "Genesis file (the trust anchor).") var genesis: String
        @Argument(help: "Proof file (JSON), or - for standard input.") var proof: String

        func run() throws {
            let data = proof == "-" ? FileHandle.standardInput.readDataToEndOfFile() : (FileManager.default.contents(atPath: proof) ?? Data())
            do {
                let p = try InclusionProof(json: JSON.parse(Array(data)))
                try p.verify(genesis: try Genesis.load(path: genesis))
                print("ok: transaction \(p.tx.hex) is in block \(p.header.height), under the ledger root signed by \(p.checkpoint.signer) at height \(p.checkpoint.height)")
            } catch {
                print("INVALID: \(error)")
                throw ExitCode(3)
            }
        }
    }

    struct Consistency: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print and check a consistency proof between two ledger heights.")
        @Option(help: "Node directory.") var dir: String
        @Option(help: "Older height.") var from: Int64
        @Option(help: "Newer height (default: head).") var to: Int64?

        func run() throws {
            let ledger = try NodeDirectory(dir).openLedger()
            do {
                let p = try ledger.consistencyProof(from: from, to: to ?? ledger.height)
                print(p.json.pretty())
                guard p.verify() else { throw fail("consistency proof does not verify") }
            } catch let e as LedgerError { throw fail(e.description) }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the ledger head and counts.")
        @Option(help: "Node directory.") var dir: String

        func run() throws {
            let node = try NodeDirectory(dir)
            let ledger = try node.openLedger()
            print("chain        \(ledger.chain)")
            print("organisation \(node.org)")
            print("height       \(ledger.height)")
            print("head         \(ledger.head.hash.hex)")
            print("ledger root  \(ledger.ledgerRoot.hex)")
            print("transactions \(ledger.transactionCount)")
        }
    }

    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Diagnostic write load: commits signed patient registrations and prints `ACK <txhash>` after each durable commit.",
            shouldDisplay: false
        )
        @Option(help: "Node directory.") var dir: String
        @Option(help: "Transactions to commit.") var count: Int = 1000
        @Option(help: "Transactions per block.") var batch: Int = 100
        @Option(help: "Seed for the generated identifiers.") var seed: UInt64 = 1

        func run() throws {
            let node = try SoloNode(directory: NodeDirectory(dir))
            let signer = try node.organisationSigner()
            let ids = PatientIdentity(consortiumSecret: try node.directory.consortiumSecret())
            // A restarted load continues with new identifiers: the stream is offset by the next nonce.
            var rng = SeededGenerator(seed: seed &+ UInt64(try node.ledger.nextNonce(for: node.keys.org)))
            var done = 0
            while done < count {
                let n = min(batch, count - done)
                let txs = (0..<n).map { _ -> Transaction in
                    let id = String(rng.next())
                    return signer.sign("patient.register", ["patient": .string(ids.pseudonym(system: "urn:load", identifier: id)),
                                                            "demographic_hash": .string(ids.demographicHash(family: id, given: "x", birthDate: "2000-01-01"))])
                }
                let out = try node.submit(txs)
                var lines = ""
                for o in out {
                    if let r = o.receipt { lines += "ACK \(r.hash.hex)\n" } else if let e = o.error { lines += "REFUSED \(e.code)\n" }
                }
                FileHandle.standardOutput.write(Data(lines.utf8))
                done += n
            }
        }
    }
}


Tally.main()
