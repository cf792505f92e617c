import ArgumentParser
import Foundation
import Ledger
import Node

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
        @Argument(help: "Policy file (JSON).") var file: String

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw fail("cannot read \(file)") }
            let raw: JSON
            do { raw = try JSON.parse(Array(data)) } catch { throw fail("\(file) is not valid policy JSON (integers only): \(error)") }
            guard case .object(var doc) = raw else { throw fail("\(file) must hold a JSON object") }
            let node = try SoloNode(directory: NodeDirectory(dir))
            if let days = doc["expires_in_days"]?.intValue {
                doc["expires"] = .int(Clock.wallMillis() + days * 86_400_000)
                doc["expires_in_days"] = nil
            }
            if let templates = doc["templates"]?.arrayValue {
                doc["templates"] = .array(try templates.map { t in
                    guard let f = t["file"]?.stringValue else { return t }
                    guard let bytes = FileManager.default.contents(atPath: root + "/" + f) else { throw fail("template \(f) not found under \(root)") }
                    return t.setting("sha256", .string(Hash32.sha256(Array(bytes)).hex))
                })
            }
            let out = try node.submit([try node.organisationSigner().sign("policy.propose", ["document": .object(doc)])])
            guard let r = out[0].receipt else { throw fail("\(out[0].error!)") }
            print("proposed \(r.result["policy"]?.stringValue ?? "?") (hash \(r.result["hash"]?.stringValue?.prefix(16) ?? "")…), status \(r.result["status"]?.stringValue ?? "?")")
        }
    }

    struct Vote: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approve, reject or withdraw approval of a policy, as this organisation.")
        @Option(help: "Node directory.") var dir: String
        @Argument(help: "approve, reject or withdraw.") var decision: String
        @Argument(help: "Policy id.") var id: String

        func run() throws {
            let node = try SoloNode(directory: NodeDirectory(dir))
            guard let p = try node.ledger.value(StateKey.policy(id)) else { throw fail("no policy \(id)") }
            let signer = try node.organisationSigner()
            let tx: Transaction
            switch decision {
            case "approve", "reject": tx = signer.sign("policy.vote", ["policy": .string(id), "hash": p["hash"] ?? "", "vote": .string(decision)])
            case "withdraw": tx = signer.sign("policy.withdraw", ["policy": .string(id)])
            default: throw fail("decision must be approve, reject or withdraw")
            }
            let out = try node.submit([tx])
            guard let r = out[0].receipt else { throw fail("\(out[0].error!)") }
            print("\(node.keys.org) \(decision)s \(id) → status \(r.result["status"]?.stringValue ?? "?")")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List policies with each custodian's vote and the derived status.")
        @Option(help: "Node directory.") var dir: String

        func run() throws {
            let node = try SoloNode(directory: NodeDirectory(dir))
            let now = Clock.wallMillis()
            for (_, p) in try node.ledger.entries(prefix: "policy/") {
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
