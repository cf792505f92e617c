import DeidSQL
import Federation
import Foundation
import Ledger
import Node
import SQLiteStore

// `TallyBench scan`: the trial-eligibility query (COUNT(DISTINCT) over patients joined to encounters,
// with EXISTS / NOT EXISTS over conditions and medications, under the policy's consent filter) over
// N encounters split across three hospital node processes, end to end through the coordinator, against
// the same rewritten SQL over one plain SQLite file holding all the rows with the same schema and
// indexes, in the same run.
//
// The sites' views are filled directly (not through the ledger): loading a million sealed records
// through Raft is what `TallyBench ingest` and `cluster` measure; here the query path is measured.
func scanBenchmark(encounters: Int, rounds: Int) throws {
    let (exe, repo) = nodeBinaryAndRepository()
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("tally-scan-bench-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    let shares: [(String, Double)] = [("general-hospital", 0.5), ("city-medical", 0.3), ("valley-hospital", 0.2)]
    let c = LocalConsortium(root: root, specs: shares.map { .init(org: $0.0, kind: .hospital) } + [.init(org: "pharmacorp", kind: .pharma)],
                            executable: exe, workingDirectory: repo)
    try c.create()
    defer { c.stopAll() }

    // 1. The same rows into each site's views and into one central file.
    let central = try ViewStore(path: root.appendingPathComponent("central.sqlite").path, org: "central", chain: "central", agreementKey: AgreementKey())
    let expires = Clock.wallMillis() + 365 * 86_400_000
    var totals = (patients: 0, encounters: 0, conditions: 0, medications: 0, consents: 0)
    let tFill = try seconds {
        for (org, share) in shares {
            let d = c.directories[org]!
            let keys = try d.keys()
            let site = try ViewStore(path: d.viewsPath, org: org, chain: c.genesis.chain, agreementKey: keys.agreement)
            let rng = SeededGenerator(seed: UInt64(org.utf8.count) &* 7919)
            let n = Int(Double(encounters) * share)
            let patients = max(n / 5, 1)
            for db in [site.database, central.database] {
                var g = rng
                try db.transaction {
                    let ip = try db.prepare("INSERT INTO v_patients VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)")
                    let ie = try db.prepare("INSERT INTO v_encounters VALUES (?, ?, ?, ?, ?, 'ambulatory', ?)")
                    let ic = try db.prepare("INSERT INTO v_conditions VALUES (?, ?, NULL, 'http://snomed.info/sct', '59621000', '2020-01-01')")
                    let im = try db.prepare("INSERT INTO v_medications VALUES (?, ?, 'http://www.nlm.nih.gov/research/umls/rxnorm', '866412', 'beta-blocker', '2021-01-01', NULL)")
                    let ik = try db.prepare("INSERT INTO v_consents VALUES (?, ?, 'pharmacorp', 'trial:cardio-2026', ?, 0, NULL)")
                    let regions = ["north", "south", "east", "west"]
                    for i in 0..<patients {
                        let pid = "PAT-\(org.prefix(2))\(i)"
                        let year = Int.random(in: 1930...2020, using: &g)
                        try ip.run([.text("\(org)/patient/\(i)"), .text(pid), .text("\(year)-06-15"), .integer(Int64(year)),
                                    .text(i % 2 == 0 ? "female" : "male"), .text(regions[i % 4]), .text("021"), .text(org)])
                        let age = 2026 - year
                        if Double.random(in: 0..<1, using: &g) < min(0.7, Double(max(age - 20, 0)) / 90) {
                            try ic.run([.text("\(org)/condition/\(i)"), .text(pid)])
                            if db === central.database { totals.conditions += 1 }
                            if Double.random(in: 0..<1, using: &g) < 0.35 {
                                try im.run([.text("\(org)/medication/\(i)"), .text(pid)])
                                if db === central.database { totals.medications += 1 }
                            }
                        }
                        if Double.random(in: 0..<1, using: &g) < 0.6 {
                            try ik.run([.text(pid), .text("consent-\(org)-\(i)"), .integer(expires)])
                            if db === central.database { totals.consents += 1 }
                        }
                    }
                    for i in 0..<n {
                        let p = Int.random(in: 0..<patients, using: &g)
                        let day = SyntheticPopulation.day("2026-11-22", minus: Int.random(in: 0...364, using: &g))
                        try ie.run([.text("\(org)/encounter/\(i)"), .text("E\(i)"), .text("PAT-\(org.prefix(2))\(p)"), .text(org), .text(day), .text(regions[p % 4])])
                    }
                }
                if db === central.database { totals.patients += patients; totals.encounters += n }
            }
            try site.database.execute("ANALYZE")
        }
        try central.database.execute("ANALYZE")
    }
    print(String(format: "filled %d patients, %d encounters, %d conditions, %d medications, %d consents into 3 sites and one central file in %.1f s",
                 totals.patients, totals.encounters, totals.conditions, totals.medications, totals.consents, tFill))

    // 2. The consortium, the sponsor's policy approved by every hospital.
    try c.startAll()
    let doc = try LocalConsortium.policyDocument(file: repo + "/Policies/trial-eligibility-cardio.json", root: repo)
    let p = try c.commit([try c.signer("pharmacorp").sign("policy.propose", ["document": doc])])[0]
    for (org, _) in shares {
        try c.commit([try c.signer(org).sign("policy.vote", ["policy": "trial-eligibility-cardio", "hash": p["result"]?["hash"] ?? "", "vote": "approve"])])
    }
    _ = c.waitForHeight(try c.directories["pharmacorp"]!.openLedger().height)
    let sql = try String(contentsOfFile: repo + "/Queries/trial_eligibility.sql", encoding: .utf8)
    let params = ["min_age": "45", "max_age": "75"]
    let warm = try c.query(as: "pharmacorp", policy: "trial-eligibility-cardio", sql: sql, parameters: params)
    guard warm.sitesAnswered.count == 3 else { print("not every site answered: \(warm.sitesRefused) \(warm.sitesMissing)"); exit(1) }

    // 3. The central baseline runs exactly the SQL a member runs (views → tables, value sets, consent filter).
    let gh = c.directories["general-hospital"]!
    let member = MemberService(keys: try gh.keys(), ledger: try gh.openLedger(), views: central,
                               valueSets: try QueryChecker.loadValueSets(directory: repo + "/Queries/valuesets"))
    let request = QueryRequest(queryID: warm.queryID, policyID: "trial-eligibility-cardio", requester: "pharmacorp", sql: sql,
                               parameters: ["min_age": .integer(45), "max_age": .integer(75)], pinnedTime: warm.pinnedTime, pinnedHeight: warm.height)
    let (centralSQL, _, bindings) = try member.plan(request, try member.admit(request))
    let plain = try Database(path: central.path, flags: [.readOnly])
    func centralRun() throws -> [[SQLValue]] {
        let st = try plain.prepare(centralSQL)
        for i in 0..<st.parameterCount { try st.bind(bindings[st.parameterName(i + 1)!]!, at: i + 1) }
        var rows: [[SQLValue]] = []
        while try st.step() { rows.append((0..<st.columnCount).map { st.value($0) }) }
        return rows
    }
    // The federated answer must be the central answer with the suppression rule applied.
    let centralRows = try centralRun()
    var want: [String: Int64] = [:]
    for r in centralRows { if let n = r[3].intValue, n >= warm.k { want["\(r[0])|\(r[1])|\(r[2])"] = n } }
    var got: [String: Int64] = [:]
    for r in warm.rows { if case .value(let s) = r[0], case .value(let a) = r[1], case .value(let x) = r[2], case .value(.integer(let n)) = r[3] { got["\(s)|\(a)|\(x)"] = n } }
    guard got == want else { print("MISMATCH: federated \(got.count) rows, central \(want.count) rows"); exit(1) }

    var fed: [Double] = [], cen: [Double] = []
    for _ in 0..<rounds {
        // Interleaved, so drift in this machine's speed hits both alike.
        fed.append(try seconds { _ = try c.query(as: "pharmacorp", policy: "trial-eligibility-cardio", sql: sql, parameters: params) })
        cen.append(try seconds { _ = try centralRun() })
    }
    func med(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] * 1000 }
    print("Tally scan benchmark — release build, \(totals.encounters) encounters over 3 hospital node processes on loopback, \(rounds) rounds")
    print("figure                                                    median ms   baseline (same run)            ratio")
    print(String(format: "trial eligibility, federated end to end (%d rows)        %9.1f   one central SQLite file %8.1f   %5.2f×",
                 warm.rows.count, med(fed), med(cen), med(fed) / med(cen)))
    print("  answers equal the central file's with the suppression rule applied; goal ≤ 1.20×")
}
