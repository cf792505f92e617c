import ArgumentParser
import DeidSQL
import Federation
import Foundation
import Ledger
import Node
import NodeAPI
import SQLiteStore

struct SurveillanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "surveillance",
        abstract: "Public health's scheduled pulls of surveillance counts.",
        subcommands: [Pull.self]
    )

    struct Pull: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the surveillance query and store the complete days not pulled yet (idempotent).",
            discussion: """
            Stores into DIR/results.sqlite, which `tally mirror run` copies to PostgreSQL. Run it from cron:
              tally surveillance pull --dir state-health --api 127.0.0.1:8106 --policy ili-surveillance
            Today is never stored (it is not complete), and a partial result (a site down) stores nothing
            unless --accept-partial is given.
            """
        )
        @Option(help: "Your node directory (results are stored there).") var dir: String
        @Option(help: "Your node's API address, host:port.") var api: String
        @Option(help: "Policy id.") var policy: String
        @Option(help: "Surveillance query file.") var sql: String = "Queries/ili_surveillance.sql"
        @Option(help: "Value set the counts are for (stored with each row).") var valueSet: String = "influenza-like-illness"
        @Flag(help: "Store days even when a site did not answer.") var acceptPartial = false

        func run() throws {
            guard let text = try? String(contentsOfFile: sql, encoding: .utf8) else { throw fail("cannot read \(sql)") }
            let nd = try NodeDirectory(dir)
            let store = try SurveillanceResults(path: nd.url.appendingPathComponent("results.sqlite").path)
            let body: JSON = ["policy": .string(policy), "sql": .string(text), "purpose": "scheduled surveillance pull"]
            let keys = try nd.keys()
            let (code, reply) = try HTTP.signed("POST", api, "/v1/queries", body: Array(body.canonicalString.utf8), identity: keys.org, key: keys.signing, timeout: 120)
            guard code == 200, let j = try? JSON.parse(Array(reply.utf8)), let r = try? FederatedResult(json: j) else {
                throw fail("query failed (HTTP \(code)): \((try? JSON.parse(Array(reply.utf8)))?["error"]?.stringValue ?? reply)")
            }
            let today = String(MemberService.sqlTime(r.pinnedTime).prefix(10))
            do {
                let o = try SurveillancePull.store(r, into: store, valueSet: valueSet, today: today, acceptPartial: acceptPartial)
                print("\(r.queryID): \(o.stored) new region-day rows, \(o.alreadyPulled) already pulled, \(o.skippedToday) from today left for tomorrow; days \(o.days.first ?? "-")…\(o.days.last ?? "-"); store holds \(store.count) rows")
                for s in r.sitesRefused { print("  \(s.site) refused: \(s.reason)") }
            } catch let e as SurveillancePull.Failure { throw fail(e.description) }
        }
    }
}

struct CohortCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort",
        abstract: "A custodian's own patients behind a federated query, for outreach (local only).",
        subcommands: [Show.self]
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List this organisation's patients counted by a query (e.g. trial-eligible, consented).",
            discussion: """
            Reads this node's own views, evaluated exactly as the node answered the query (same pinned
            time and height, same consent filter). Patients are listed by consortium pseudonym; map them
            to your records locally. No API serves this list and it never leaves your organisation.
              tally cohort show query-6bdc89b541324551 --dir general-hospital --sql Queries/trial_eligibility.sql \\
                  --param min_age=45 --param max_age=75
            """
        )
        @Argument(help: "The query id (from the result's provenance).") var queryID: String
        @Option(help: "Your node directory.") var dir: String
        @Option(help: "The query's SQL file (must be the submitted text).") var sql: String
        @Option(help: "Parameter value, name=value (integers are bound as integers).") var param: [String] = []
        @Option(help: "Directory of value sets.") var valuesets: String = "Queries/valuesets"

        func run() throws {
            guard let text = try? String(contentsOfFile: sql, encoding: .utf8) else { throw fail("cannot read \(sql)") }
            let nd = try NodeDirectory(dir)
            let keys = try nd.keys()
            let ledger = try nd.openLedger()
            let views = try ViewStore(path: nd.viewsPath, org: keys.org, chain: ledger.chain, agreementKey: keys.agreement)
            let sets = FileManager.default.fileExists(atPath: valuesets) ? try QueryChecker.loadValueSets(directory: valuesets) : [:]
            let member = MemberService(keys: keys, ledger: ledger, views: views, valueSets: sets)
            var params: [String: SQLValue] = [:]
            for p in param {
                let kv = p.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { throw fail("--param \(p): expected name=value") }
                params[String(kv[0])] = Int64(kv[1]).map { .integer($0) } ?? .text(String(kv[1]))
            }
            do {
                let (columns, rows) = try member.cohort(queryID: queryID, sql: text, parameters: params)
                print(columns.joined(separator: "\t"))
                for r in rows { print(r.map(\.displayText).joined(separator: "\t")) }
                FileHandle.standardError.write(Data("\(rows.count) row(s): \(keys.org)'s own patients only; do not send this list to anyone outside \(keys.org)\n".utf8))
            } catch let e as Refusal { throw fail(e.description) }
        }
    }
}
