import DeidSQL
import Federation
import Foundation
import Ledger
import SQLiteStore
import Workflows

/// `tally demo`: a consortium of node processes on loopback — three custodians of different sizes, an
/// insurer, the pharma sponsor, and public health as a non-voting audit node — with a seeded synthetic
/// population loaded through the replicated ledger, policies voted on by the custodians, the
/// trial-eligibility and ILI queries run through the coordinators, a site going down, and the audit
/// trail of the queries. Everything printed is what the nodes answered.
public final class ConsortiumDemo {
    public struct Summary {
        public var height: Int64 = 0
        public var identicalHeads = false
        public var verified = false
        public var queries = 0
        public var claims = 0
    }

    let root: URL
    let repo: URL
    let executable: String
    let specs: [LocalConsortium.MemberSpec]
    let say: (String) -> Void

    public init(root: URL, repo: URL, executable: String, specs: [LocalConsortium.MemberSpec] = LocalConsortium.demoMembers,
                say: @escaping (String) -> Void) {
        self.root = root
        self.repo = repo
        self.executable = executable
        self.specs = specs
        self.say = say
    }

    public func run() throws -> Summary {
        var summary = Summary()
        let c = LocalConsortium(root: root, specs: specs, executable: executable, workingDirectory: repo.path)
        let started = Date()
        func elapsed() -> String { String(format: "%.1f s", Date().timeIntervalSince(started)) }

        say("== A consortium on loopback: one node process per member, Raft-replicated ledger")
        try c.create()
        defer { c.stopAll() }
        try c.startAll()
        for s in specs {
            say("  \(s.org.padding(toLength: 17, withPad: " ", startingAt: 0)) \(s.kind.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) \(s.voting ? "voter  " : "learner") api \(c.apis[s.org]!)")
        }
        let leader = try c.leader()
        say("  leader elected: \(leader) (term \(c.status(leader)?["term"]?.intValue ?? 0)); node directories under \(root.path)")

        say("\n== Synthetic population (seeded), sealed for each custodian alone, loaded through the ledger")
        let today = String(MemberService.sqlTime(Clock.wallMillis()).prefix(10))
        let loaded = try c.loadPopulations(today: today, seed: 2026, trialGrantee: "pharmacorp", trialScope: "trial:cardio-2026",
                                           consentShare: 0.6) { say($0) }
        let total = loaded.values.reduce(0) { $0 + $1.patients }
        say("  \(total) patients in all; no node but the custodian can read a record (\(elapsed()))")

        say("\n== Policies: proposed by the requesters, approved (or not) by each custodian on the ledger")
        let trialDoc = try LocalConsortium.policyDocument(file: repo.appendingPathComponent("Policies/trial-eligibility-cardio.json").path, root: repo.path)
        let iliDoc = try LocalConsortium.policyDocument(file: repo.appendingPathComponent("Policies/ili-surveillance.json").path, root: repo.path)
        let trial = try c.commit([try c.signer("pharmacorp").sign("policy.propose", ["document": trialDoc])])[0]
        let ili = try c.commit([try c.signer("state-health").sign("policy.propose", ["document": iliDoc])])[0]
        say("  pharmacorp proposes trial-eligibility-cardio: k = 11, consent scope trial:cardio-2026, every custodian must approve")
        say("  state-health proposes ili-surveillance: k = 11, any two custodians suffice, each answers only if it approved")
        let custodians = specs.filter { $0.kind.isCustodian }.map(\.org)
        for org in custodians {
            try c.commit([try c.signer(org).sign("policy.vote", ["policy": "trial-eligibility-cardio", "hash": trial["result"]?["hash"] ?? "", "vote": "approve"])])
            let vote = org == "valley-clinic" ? "reject" : "approve"
            try c.commit([try c.signer(org).sign("policy.vote", ["policy": "ili-surveillance", "hash": ili["result"]?["hash"] ?? "", "vote": .string(vote)])])
            say("  \(org.padding(toLength: 17, withPad: " ", startingAt: 0)) trial: approve   ili: \(vote)")
        }
        let requesterLedger = try c.directories["state-health"]!.openLedger()
        _ = c.waitForHeight(try c.directories["pharmacorp"]!.openLedger().height)
        for id in ["trial-eligibility-cardio", "ili-surveillance"] {
            if let p = try requesterLedger.value(StateKey.policy(id)) {
                say("  \(id): \(PolicyStatus.derive(p, at: Clock.wallMillis()).rawValue)")
            }
        }

        let queries = repo.appendingPathComponent("Queries")
        func sql(_ f: String) throws -> String { try String(contentsOf: queries.appendingPathComponent(f), encoding: .utf8) }

        say("\n== pharmacorp: how many consented patients aged 45–75 with hypertension, not on a beta blocker, per site?")
        say("   tally query run --api \(c.apis["pharmacorp"]!) --dir pharmacorp --policy trial-eligibility-cardio --param min_age=45 --param max_age=75 Queries/trial_eligibility.sql")
        let t = try c.query(as: "pharmacorp", policy: "trial-eligibility-cardio", sql: try sql("trial_eligibility.sql"),
                            parameters: ["min_age": "45", "max_age": "75"], purpose: "cardio-2026 feasibility")
        say(indent(ResultText.render(t)))
        summary.queries += 1
        say("\n   general-hospital's data steward lists its own eligible patients, locally, to invite them:")
        say("   tally cohort show \(t.queryID) --dir general-hospital --sql Queries/trial_eligibility.sql --param min_age=45 --param max_age=75")
        let gh = c.directories["general-hospital"]!
        let ghKeys = try gh.keys()
        let ghLedger = try gh.openLedger()
        let ghMember = MemberService(keys: ghKeys, ledger: ghLedger,
                                     views: try ViewStore(path: gh.viewsPath, org: ghKeys.org, chain: ghLedger.chain, agreementKey: ghKeys.agreement),
                                     valueSets: try QueryChecker.loadValueSets(directory: queries.appendingPathComponent("valuesets").path))
        let cohort = try ghMember.cohort(queryID: t.queryID, sql: try sql("trial_eligibility.sql"), parameters: ["min_age": .integer(45), "max_age": .integer(75)])
        say("   \(cohort.rows.count) pseudonymous patients (e.g. \(cohort.rows.prefix(2).compactMap { $0.first?.textValue?.prefix(20) }.joined(separator: ", "))…) — the list stays at general-hospital")

        say("\n== state-health: influenza-like illness by region and day, last 7 days")
        say("   tally query run --api \(c.apis["state-health"]!) --dir state-health --policy ili-surveillance Queries/ili_surveillance.sql")
        let i1 = try c.query(as: "state-health", policy: "ili-surveillance", sql: try sql("ili_surveillance.sql"), purpose: "daily ILI report")
        say(indent(ResultText.render(i1)))
        say("   valley-clinic rejected the policy, so its patients are not in these counts.")
        summary.queries += 1
        let store = try SurveillanceResults(path: c.directories["state-health"]!.url.appendingPathComponent("results.sqlite").path)
        let pinnedDay = String(MemberService.sqlTime(i1.pinnedTime).prefix(10))
        let pulled = try SurveillancePull.store(i1, into: store, valueSet: "influenza-like-illness", today: pinnedDay)
        let again = try SurveillancePull.store(i1, into: store, valueSet: "influenza-like-illness", today: pinnedDay)
        say("   state-health's scheduled job (tally surveillance pull) stored \(pulled.stored) region-days (today's \(pulled.skippedToday) wait for tomorrow);")
        say("   run again, it stores \(again.stored): pulls are idempotent. `tally mirror run` copies them to the PostgreSQL warehouse.")

        say("\n== state-health: hypertension prevalence by region and age decade")
        let hp = try c.query(as: "state-health", policy: "ili-surveillance", sql: try sql("hypertension_prevalence.sql"))
        say(indent(ResultText.render(hp)))
        summary.queries += 1

        if specs.contains(where: { $0.org == "healthinsure" }) {
            try claims(c, say: say)
            summary.claims = 2
        }

        say("\n== city-medical's node goes down; the ILI query runs again and says what is missing")
        c.stop("city-medical", signal: SIGKILL)
        let i2 = try c.query(as: "state-health", policy: "ili-surveillance", sql: try sql("ili_surveillance.sql"), purpose: "daily ILI report (retry)")
        say(indent(ResultText.provenance(i2).joined(separator: "\n")))
        summary.queries += 1
        try c.start("city-medical")
        say("  city-medical restarted and caught up from its peers")

        say("\n== Audit trail on the ledger (as every node holds it)")
        let height = try c.directories["pharmacorp"]!.openLedger().height
        _ = c.waitForHeight(height)
        let ledger = try c.directories["state-health"]!.openLedger()
        for (_, e) in try ledger.entries(prefix: "audit/query/") {
            if e["event"]?.stringValue == "query.answered" {
                let names = { (k: String) in (e[k]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", ") }
                say("  \(MemberService.sqlTime(e["time"]?.intValue ?? 0))  query.answered   \(e["query"]?.stringValue ?? "")  answered: \(names("answered"))\(names("refused").isEmpty ? "" : "; refused: \(names("refused"))")\(names("missing").isEmpty ? "" : "; missing: \(names("missing"))")")
                continue
            }
            say("  \(MemberService.sqlTime(e["time"]?.intValue ?? 0))  \(e["event"]?.stringValue ?? "")  \(e["query"]?.stringValue ?? "")  by \(e["actor"]?.stringValue ?? "")  policy \(e["policy"]?.stringValue ?? "") (\(e["policy_status"]?.stringValue ?? ""))  sql \(String((e["query_hash"]?.stringValue ?? "").prefix(12)))…")
        }
        for (_, e) in try ledger.entries(prefix: "audit/policy/") {
            say("  \(MemberService.sqlTime(e["time"]?.intValue ?? 0))  \(e["event"]?.stringValue ?? "")  \(e["policy"]?.stringValue ?? "")  by \(e["actor"]?.stringValue ?? "")\(e["vote"]?.stringValue.map { "  \($0)" } ?? "")")
        }

        say("\n== Every node's ledger")
        // Query outcomes are recorded a moment after their queries (`audit.result`): wait until none
        // is left and every node holds the same blocks, then stop them.
        let finalHeight = try c.waitUntilSettled() ?? c.directories["pharmacorp"]!.openLedger().height
        c.stopAll()
        var heads = Set<String>()
        var verified = true
        for s in specs {
            let d = c.directories[s.org]!
            let l = try d.openLedger()
            let report = try LedgerVerifier.verify(path: d.ledgerPath, genesis: c.genesis)
            verified = verified && report.ok
            heads.insert(l.head.hash.hex)
            say("  \(s.org.padding(toLength: 17, withPad: " ", startingAt: 0)) height \(l.height)  head \(l.head.hash.hex.prefix(16))…  \(report.ok ? "verified" : "VERIFY FAILED: \(report.failure.map { "\($0)" } ?? "")")")
        }
        summary.height = finalHeight
        summary.identicalHeads = heads.count == 1
        summary.verified = verified
        say("  \(heads.count == 1 ? "identical on every node" : "NODES DISAGREE") (\(elapsed()))")
        return summary
    }

    /// The insurer's scene: a claim approved against the ledger, and the same service billed by a
    /// provider that never saw the patient — flagged to the payer, and denied for want of an encounter.
    func claims(_ c: LocalConsortium, say: (String) -> Void) throws {
        say("\n== healthinsure: claims verified against the ledger, without reading any clinical record")
        let views = try Database(path: c.directories["general-hospital"]!.viewsPath, flags: [.readOnly])
        guard let row = try views.rows("SELECT patient_id, substr(service_date, 1, 10), record_key FROM v_encounters ORDER BY record_key LIMIT 1").first,
              let pid = row[0].textValue, let date = row[1].textValue, let enc = row[2].textValue else { return }
        c.refreshSigners()
        try c.commit([try c.signer("healthinsure").sign("claim.authorise", ["provider": "general-hospital", "procedures": ["99213", "99214"]]),
                      try c.signer("healthinsure").sign("claim.authorise", ["provider": "city-medical", "procedures": ["99213"]])])
        say("  healthinsure authorises general-hospital for 99213 and 99214, city-medical for 99213 (tally claim authorise)")
        var ids: [String: String] = [:]
        for (org, number, evidence) in [("general-hospital", "GH-1001", enc as String?), ("city-medical", "CM-7734", nil)] {
            let d = c.directories[org]!
            let claim = Claim(localID: number, patient: pid, provider: org, procedureCode: "99213", serviceDate: date, amountCents: 12_500, encounterRecord: evidence)
            let args = try Claims.submission(claim, provider: try d.keys(), ledger: try d.openLedger(), payer: "healthinsure")
            ids[org] = try c.commit([try c.signer(org).sign("claim.submit", args)])[0]["result"]?["claim"]?.stringValue
        }
        say("  general-hospital files \(ids["general-hospital"] ?? "?") and city-medical files \(ids["city-medical"] ?? "?"): the same patient, procedure 99213, \(date)")
        say("  each claim is sealed for its provider and healthinsure only; neither hospital can open the other's")
        _ = c.waitForHeight(try c.directories["city-medical"]!.openLedger().height)
        let hi = c.directories["healthinsure"]!
        let verifier = ClaimVerifier(ledger: try hi.openLedger(), keys: try hi.keys())
        for org in ["general-hospital", "city-medical"] {
            guard let id = ids[org] else { continue }
            let v = try verifier.verify(id)
            say("  tally claim verify \(id) → \(v.outcome.rawValue.uppercased())\(v.reason.isEmpty ? "" : " (\(v.reason))"): \(v.message)")
            for dup in v.duplicates { say("      also claimed: \(dup.claim) by \(dup.provider)") }
        }
        say("  the encounter was checked through general-hospital's service commitment on the ledger; healthinsure read no record")
    }

    func indent(_ s: String) -> String { s.split(separator: "\n", omittingEmptySubsequences: false).map { "   " + $0 }.joined(separator: "\n") }
}
