import ArgumentParser
import Foundation
import Ledger
import Node
import NodeAPI

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Propose, vote on and list query policies (status is derived from the custodians' votes).",
        subcommands: [Propose.self, Vote.self, List.self]
    )

    struct Propose: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Propose a policy file (Policies/*.json); template files are pinned by their SHA-256.",
            discussion: "`expires_in_days` becomes an absolute `expires`; each template `{\"file\": …}` gets its `sha256` from the file's bytes."
        )
        @Option(help: "Node directory.") var dir: String
        @Option(help: "Folder the template paths are relative to.") var root: String = "."
        @Option(help: "A running node's API address (host:port); without it the node directory's ledger is written directly (solo).") var api: String?
        @Argument(help: "Policy file (JSON).") var file: String

        func run() throws {
            let doc: JSON
            do { doc = try LocalConsortium.policyDocument(file: file, root: root) } catch { throw fail("\(error)") }
            let result = try submitAsOrganisation(dir: dir, api: api, op: "policy.propose", args: ["document": doc])
            print("proposed \(result["policy"]?.stringValue ?? "?") (hash \(result["hash"]?.stringValue?.prefix(16) ?? "")…), status \(result["status"]?.stringValue ?? "?")")
        }
    }

    struct Vote: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approve, reject or withdraw approval of a policy, as this organisation.")
        @Option(help: "Node directory.") var dir: String
        @Option(help: "A running node's API address (host:port); without it the node directory's ledger is written directly (solo).") var api: String?
        @Argument(help: "approve, reject or withdraw.") var decision: String
        @Argument(help: "Policy id.") var id: String

        func run() throws {
            let nd = try NodeDirectory(dir)
            guard let p = try nd.openLedger().value(StateKey.policy(id)) else { throw fail("no policy \(id) on this node's ledger") }
            let result: JSON
            switch decision {
            case "approve", "reject":
                // The vote names the policy's hash: an organisation approves exactly the text it read.
                result = try submitAsOrganisation(dir: dir, api: api, op: "policy.vote", args: ["policy": .string(id), "hash": p["hash"] ?? "", "vote": .string(decision)])
            case "withdraw": result = try submitAsOrganisation(dir: dir, api: api, op: "policy.withdraw", args: ["policy": .string(id)])
            default: throw fail("decision must be approve, reject or withdraw")
            }
            print("\(nd.org) \(decision)s \(id) → status \(result["status"]?.stringValue ?? "?")")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List policies with each custodian's vote and the derived status.")
        @Option(help: "Node directory.") var dir: String

        func run() throws {
            let ledger = try NodeDirectory(dir).openLedger()
            let now = Clock.wallMillis()
            for (_, p) in try ledger.entries(prefix: "policy/") {
                let id = p["id"]?.stringValue ?? "?"
                print("\(id)  [\(PolicyStatus.derive(p, at: now).rawValue)]  k=\(p["k"]?.intValue ?? 0)  rule=\(p["rule"]?.stringValue ?? "")\(p["rule"]?.stringValue == "quorum" ? " \(p["quorum"]?.intValue ?? 0)" : "")")
                for c in (p["custodians"]?.arrayValue ?? []).compactMap(\.stringValue) {
                    let v = p["votes"]?[c]
                    print("    \(c.padding(toLength: 20, withPad: " ", startingAt: 0)) \(v?["vote"]?.stringValue ?? "—")\(v?["by"]?.stringValue.map { " by \($0)" } ?? "")")
                }
            }
        }
    }
}

/// Signs `op` as the directory's organisation and commits it: through a running node's API (following
/// a not-the-leader answer once), or straight into the directory's ledger when no API is given (solo).
func submitAsOrganisation(dir: String, api: String?, op: String, args: JSON) throws -> JSON {
    try submitSigned(dir: dir, user: nil, api: api, op: op, args: args)
}

/// The identity (ORG or ORG/USER) and key a command signs with.
func signingIdentity(dir: String, user: String?) throws -> (String, SigningKey) {
    do {
        let nd = try NodeDirectory(dir)
        return (user.map { "\(nd.org)/\($0)" } ?? nd.org, try user.map(nd.userKey) ?? nd.keys().signing)
    } catch let e as NodeDirectory.Error { throw fail(e.description) }
}

/// Signs `op` as `user` of the directory's organisation (its key in `keys/users/`), or as the
/// organisation itself when `user` is nil, and commits it (see `submitAsOrganisation`).
func submitSigned(dir: String, user: String?, api: String?, op: String, args: JSON) throws -> JSON {
    let nd: NodeDirectory
    let key: SigningKey
    do {
        nd = try NodeDirectory(dir)
        key = try user.map(nd.userKey) ?? nd.keys().signing
    } catch let e as NodeDirectory.Error { throw fail(e.description) }
    let identity = user.map { "\(nd.org)/\($0)" } ?? nd.org
    guard let api else {
        let node = try SoloNode(directory: nd)
        let signer = TransactionSigner(chain: node.genesis.chain, identity: identity, key: key, firstNonce: try node.ledger.nextNonce(for: identity))
        let out = try node.submit([signer.sign(op, args)])
        guard let r = out[0].receipt else { throw fail("\(op) refused: \(out[0].error!)") }
        return r.result
    }
    let ledger = try nd.openLedger()
    let tx = TransactionSigner(chain: ledger.chain, identity: identity, key: key, firstNonce: try ledger.nextNonce(for: identity)).sign(op, args)
    var (code, body) = try HTTP.request("POST", api, "/v1/transactions", body: tx.bytes)
    if code == 421, let leader = (try? JSON.parse(Array(body.utf8)))?["leader_api"]?.stringValue {
        (code, body) = try HTTP.request("POST", leader, "/v1/transactions", body: tx.bytes)
    }
    let j = try? JSON.parse(Array(body.utf8))
    guard code == 200, let result = j?["result"] else { throw fail("\(op) not committed (HTTP \(code)): \(j?["error"]?.stringValue ?? body)") }
    return result
}
