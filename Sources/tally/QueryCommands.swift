import ArgumentParser
import DeidSQL
import Federation
import Foundation
import NodeAPI
import Ledger
import Node
import SQLiteStore

struct ViewsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "views",
        abstract: "The node's decrypted views of the records it holds.",
        subcommands: [Status.self, Rebuild.self]
    )

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Bring the views up to the ledger head and show their size.")
        @Option(help: "Node directory.") var dir: String
        func run() throws {
            let node = try SoloNode(directory: NodeDirectory(dir))
            let v = try node.views()
            print("views at height \(v.height) (ledger \(node.ledger.height))")
            for t in ["patients", "encounters", "conditions", "medications", "immunizations", "claims", "world_state", "consents"] {
                print("  \(t.padding(toLength: 14, withPad: " ", startingAt: 0)) \(try v.count(t))")
            }
        }
    }

    struct Rebuild: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Recompute the views from the ledger (the result equals incremental maintenance).")
        @Option(help: "Node directory.") var dir: String
        func run() throws {
            let node = try SoloNode(directory: NodeDirectory(dir))
            let before = (try? node.views().contentDigest()) ?? ""
            let v = try node.rebuildViews()
            let after = try v.contentDigest()
            print("rebuilt views at height \(v.height); content digest \(after.prefix(16))… \(before.isEmpty ? "" : before == after ? "(identical to the incremental views)" : "(DIFFERS from the incremental views)")")
        }
    }
}

struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Run and preview de-identified queries.",
        subcommands: [Preview.self, Run.self]
    )

    struct Preview: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show exactly what this node would release for a query under a policy, and what it would suppress (nothing leaves the node).",
            discussion: "The second gate of a two-gate approval: a hospital's data steward sees its own node's answer before approving."
        )
        @Option(help: "Node directory.") var dir: String
        @Option(help: "Policy id.") var policy: String
        @Option(help: "Requester to evaluate as (default: the policy's first requester).") var requester: String?
        @Option(help: "Parameter value, name=value (integers are bound as integers).") var param: [String] = []
        @Option(help: "Directory of value sets.") var valuesets: String?
        @Argument(help: "SQL file, or - for standard input.") var file: String

        func run() throws {
            let sql = try SQLCommand.read(file)
            let node = try SoloNode(directory: NodeDirectory(dir))
            let member = try node.member(valueSetDirectory: SQLCommand.valueSetDirectory(valuesets))
            let h = node.ledger.height
            let policyDoc = try node.ledger.value(StateKey.policy(policy))?["document"]
            let who = requester ?? policyDoc?["requesters"]?.arrayValue?.first?.stringValue ?? node.keys.org
            var params: [String: SQLValue] = [:]
            for p in param {
                let kv = p.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2 else { throw fail("--param takes name=value") }
                params[kv[0]] = Int64(kv[1]).map { .integer($0) } ?? .text(kv[1])
            }
            let request = QueryRequest(queryID: "preview", policyID: policy, requester: who, sql: sql, parameters: params,
                                       pinnedTime: try node.ledger.block(at: h).header.time, pinnedHeight: h)
            do {
                let (r, plan) = try member.preview(request)
                print("preview at \(node.keys.org), ledger height \(h), policy \(policy), k = \(r.k)")
                print(ResultText.render(r, plan: plan))
                print("\(r.rows.count) rows released, \(r.suppressedRows) rows withheld (fewer than \(r.k) patients), \(r.suppressedCells) cells withheld")
            } catch {
                print("refused: \(error)")
                throw ExitCode(2)
            }
        }
    }
}


extension QueryCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run a federated query through your organisation's running node (it coordinates).",
            discussion: """
            The node records the submission on the ledger, sends it to every custodian member, verifies
            their signed answers, merges them and applies the threshold again. Sites that refuse (e.g. did
            not approve the policy) or do not answer in time are named; the result is then partial.
              tally query run --api 127.0.0.1:8105 --dir pharmacorp --policy trial-eligibility-cardio Queries/trial_eligibility.sql
            Suppressed cells print as (suppressed) in tables, empty in CSV, {"suppressed":true} in JSON.
            """
        )
        @Option(help: "Your node's API address, host:port.") var api: String
        @Option(help: "Your organisation's node directory (its key signs the request).") var dir: String
        @Option(name: .customLong("as"), help: "Sign as this user of the organisation (DIR/keys/users/NAME.key, role analyst or data-steward).") var user: String?
        @Option(help: "Policy id.") var policy: String
        @Option(help: "Parameter value, name=value.") var param: [String] = []
        @Option(help: "Output: table, json or csv.") var format: String = "table"
        @Option(help: "Purpose recorded with the submission.") var purpose: String = ""
        @Argument(help: "SQL file, or - for standard input.") var file: String

        func run() throws {
            guard ["table", "json", "csv"].contains(format) else { throw fail("--format must be table, json or csv") }
            let sql: String
            if file == "-" {
                sql = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            } else {
                guard let t = try? String(contentsOfFile: file, encoding: .utf8) else { throw fail("cannot read \(file)") }
                sql = t
            }
            var params: [String: JSON] = [:]
            for p in param {
                let kv = p.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { throw fail("--param \(p): expected name=value") }
                params[String(kv[0]).trimmingCharacters(in: CharacterSet(charactersIn: ":"))] = .string(String(kv[1]))
            }
            let body: JSON = ["policy": .string(policy), "sql": .string(sql), "parameters": .object(params), "purpose": .string(purpose)]
            let (identity, key) = try signingIdentity(dir: dir, user: user)
            let (code, text) = try HTTP.signed("POST", api, "/v1/queries", body: Array(body.canonicalString.utf8), identity: identity, key: key, timeout: 120)
            guard code == 200, let j = try? JSON.parse(Array(text.utf8)), let r = try? FederatedResult(json: j) else {
                let msg = (try? JSON.parse(Array(text.utf8)))?["error"]?.stringValue ?? text
                throw fail("query failed (HTTP \(code)): \(msg)")
            }
            switch format {
            case "json": print(j.pretty())
            case "csv": print(ResultText.csv(r), terminator: "")
            default: print(ResultText.render(r))
            }
        }
    }
}
