import Federation
import Foundation
import Ledger
import Node
import NodeAPI
import SQLiteStore
import Testing

/// The insurer's, the patient portal's, the privacy officer's and the sponsor's commands, run as
/// those users run them: the `tally` CLI against a live consortium of node processes.
@Suite(.serialized) struct WorkflowCLITests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func claimsConsentAccessReportsAnchorsAndBreakGlassThroughTheCLI() throws {
        let root = try temporaryDirectory("workflows")
        defer { try? FileManager.default.removeItem(at: root) }
        let c = LocalConsortium(root: root, specs: [
            .init(org: "general-hospital", kind: .hospital, patients: 40),
            .init(org: "city-medical", kind: .hospital, patients: 30),
            .init(org: "healthinsure", kind: .insurer),
            .init(org: "pharmacorp", kind: .pharma),
        ], executable: tallyExecutable().path, workingDirectory: Self.repo.path)
        c.logLevel = "trace"
        try c.create()
        defer { c.stopAll() }
        try c.startAll()
        _ = try c.loadPopulations(today: String(MemberService.sqlTime(Clock.wallMillis()).prefix(10)), seed: 5,
                                  trialGrantee: "pharmacorp", trialScope: "trial:cardio-2026", consentShare: 0)
        func dir(_ org: String) -> String { c.directories[org]!.url.path }
        func api(_ org: String) -> String { c.apis[org]! }
        /// Waits until every node has the ledger height `org`'s node has now.
        func synced(_ org: String) throws { #expect(c.waitForHeight(try c.directories[org]!.openLedger().height)) }

        // A general-hospital patient and one of their encounter dates, from the hospital's own views.
        let views = try Database(path: c.directories["general-hospital"]!.viewsPath, flags: [.readOnly])
        let row = try #require(try views.rows("SELECT patient_id, substr(service_date, 1, 10) FROM v_encounters ORDER BY record_key LIMIT 1").first)
        let (pid, date) = (row[0].textValue!, row[1].textValue!)

        // Claims: the payer authorises, the provider files, the payer verifies and records its decision.
        var r = try runTally(["claim", "authorise", "--dir", dir("healthinsure"), "--api", api("healthinsure"), "--provider", "general-hospital", "--procedure", "99213"])
        #expect(r.status == 0, "\(r.out)")
        r = try runTally(["claim", "submit", "--dir", dir("general-hospital"), "--api", api("general-hospital"), "--payer", "healthinsure", "--number", "GH-1",
                          "--patient", pid, "--procedure", "99213", "--date", date, "--amount", "125.00"])
        #expect(r.status == 0, "\(r.out)")
        let claim = try #require(r.out.split(separator: " ").dropFirst().first.map(String.init))
        try synced("general-hospital")
        r = try runTally(["claim", "verify", claim, "--dir", dir("healthinsure"), "--api", api("healthinsure"), "--record"])
        #expect(r.status == 0 && r.out.contains("APPROVED") && r.out.contains("decision recorded"), "\(r.out)")
        r = try runTally(["claim", "submit", "--dir", dir("general-hospital"), "--api", api("general-hospital"), "--payer", "healthinsure", "--number", "GH-2",
                          "--patient", pid, "--procedure", "99213", "--date", "1999-01-01", "--amount", "80"])
        #expect(r.status == 0 && r.out.contains("WARNING"), "\(r.out)")
        let denied = try #require(r.out.split(separator: " ").dropFirst().first.map(String.init))
        try synced("general-hospital")
        r = try runTally(["claim", "verify", denied, "--dir", dir("healthinsure")])
        #expect(r.status == 5 && r.out.contains("no_matching_encounter"), "\(r.out)")
        r = try runTally(["claim", "submit", "--dir", dir("general-hospital"), "--api", api("general-hospital"), "--payer", "pharmacorp", "--number", "GH-3",
                          "--patient", pid, "--procedure", "99213", "--date", date, "--amount", "80"])
        #expect(r.status == 1 && r.out.contains("not an active insurer"), "\(r.out)")

        // Consent portal: a portal identity grants, lists, revokes; revoking twice is an error.
        r = try runTally(["identity", "enroll", "--dir", dir("general-hospital"), "--api", api("general-hospital"), "--name", "portal", "--role", "patient-portal"])
        #expect(r.status == 0, "\(r.out)")
        try synced("general-hospital")
        r = try runTally(["consent", "grant", "--dir", dir("general-hospital"), "--as", "portal", "--api", api("general-hospital"), "--patient", pid,
                          "--grantee", "pharmacorp", "--scope", "trial:cardio-2026", "--expires", "2030-12-31"])
        #expect(r.status == 0, "\(r.out)")
        let consent = try #require(r.out.split(separator: " ").dropFirst().first.map { String($0.dropLast()) })
        r = try runTally(["consent", "grant", "--dir", dir("general-hospital"), "--as", "portal", "--api", api("general-hospital"), "--patient", pid,
                          "--grantee", "no-such-org", "--scope", "research", "--expires", "2030-12-31"])
        #expect(r.status == 1 && r.out.contains("not an active member"), "\(r.out)")
        try synced("general-hospital")
        r = try runTally(["consent", "list", "--dir", dir("general-hospital"), "--patient", pid])
        #expect(r.status == 0 && r.out.contains(consent) && r.out.contains("active"), "\(r.out)")
        r = try runTally(["consent", "revoke", "--dir", dir("general-hospital"), "--as", "portal", "--api", api("general-hospital"), "--patient", pid, "--consent", consent])
        #expect(r.status == 0, "\(r.out)")
        try synced("general-hospital")
        r = try runTally(["consent", "revoke", "--dir", dir("general-hospital"), "--as", "portal", "--api", api("general-hospital"), "--patient", pid, "--consent", consent])
        #expect(r.status == 1 && r.out.contains("already revoked"), "\(r.out)")

        // Break-glass: city-medical's ER doctor opens the record; it waits in general-hospital's queue until reviewed.
        for (org, name, role) in [("city-medical", "dr-er", "physician"), ("general-hospital", "privacy-officer", "data-steward")] {
            r = try runTally(["identity", "enroll", "--dir", dir(org), "--api", api(org), "--name", name, "--role", role])
            #expect(r.status == 0, "\(r.out)")
        }
        try synced("city-medical")
        r = try runTally(["access", "emergency", "--dir", dir("city-medical"), "--as", "dr-er", "--api", api("city-medical"), "--patient", pid, "--purpose", "unconscious on arrival"])
        #expect(r.status == 0, "\(r.out)")
        let access = try #require(r.out.split(separator: " ").dropFirst(2).first.map(String.init))
        try synced("city-medical")
        r = try runTally(["access", "queue", "--dir", dir("general-hospital")])
        #expect(r.out.contains(access) && r.out.contains("city-medical/dr-er"), "\(r.out)")
        r = try runTally(["access", "review", access, "--dir", dir("general-hospital"), "--as", "privacy-officer", "--api", api("general-hospital"),
                          "--outcome", "justified", "--note", "ER admission on record"])
        #expect(r.status == 0, "\(r.out)")
        try synced("general-hospital")
        r = try runTally(["access", "queue", "--dir", dir("general-hospital")])
        #expect(r.out.contains("no break-glass access awaits review"), "\(r.out)")

        // A federated query, whose outcome the coordinator records, so the report can name the sites.
        let sql = "SELECT COUNT(DISTINCT patient_id) AS n FROM patients"
        c.refreshSigners()
        let doc: JSON = ["id": "census", "purpose": "count", "requesters": ["pharmacorp"], "ad_hoc": true, "k": 11, "expires": .int(Clock.wallMillis() + 86_400_000)]
        let hash = try #require(try c.commit([try c.signer("pharmacorp").sign("policy.propose", ["document": doc])])[0]["result"]?["hash"])
        for org in ["general-hospital", "city-medical"] {
            try c.commit([try c.signer(org).sign("policy.vote", ["policy": "census", "hash": hash, "vote": "approve"])])
        }
        try synced("city-medical")
        let q = try c.query(as: "pharmacorp", policy: "census", sql: sql)
        #expect(q.sitesAnswered == ["city-medical", "general-hospital"])
        #expect(poll(seconds: 30) { (try? c.directories["general-hospital"]!.openLedger().value(StateKey.query(q.queryID)))??["sites"] != nil },
                "the coordinator records which sites answered")

        // The patient's access report: the consent changes, the break-glass access and its review, the claim, the query — each with a proof.
        let reportFile = root.appendingPathComponent("report.json").path
        r = try runTally(["access", "report", pid, "--dir", dir("general-hospital"), "--out", reportFile])
        #expect(r.status == 0, "\(r.out)")
        for needle in ["consent", "break-glass", "review", "claim", "query \(q.queryID)", "general-hospital", "proof verifies"] {
            #expect(r.out.contains(needle), "report lacks \(needle): \(r.out)")
        }
        let report = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: reportFile))))
        let entries = report["entries"]?.arrayValue ?? []
        #expect(entries.count == 7, "2 claims, grant, revoke, break-glass, review, query: \(entries.map { $0["kind"]?.stringValue ?? "" })")
        for e in entries {
            let proofFile = root.appendingPathComponent("proof.json")
            try Data(e["proof"]!.canonicalString.utf8).write(to: proofFile)
            let check = try runTally(["ledger", "check-proof", "--genesis", c.directories["general-hospital"]!.genesisPath, proofFile.path])
            #expect(check.status == 0, "\(check.out)")
        }
        // The same through the node API.
        // Reads that name patients need a signed request from an active identity.
        func signed(_ org: String, _ path: String, as signer: String) throws -> (Int, String) {
            try HTTP.signed("GET", api(org), path, identity: signer, key: try c.directories[signer]!.keys().signing)
        }
        var (code, text) = try HTTP.request("GET", api("city-medical"), "/v1/patients/\(pid)/access-report")
        #expect(code == 401 && text.contains("unauthenticated"))
        (code, text) = try signed("city-medical", "/v1/patients/\(pid)/access-report", as: "city-medical")
        #expect(try code == 200 && (JSON.parse(Array(text.utf8)))["entries"]?.arrayValue?.count == 7)
        (code, text) = try signed("general-hospital", "/v1/patients/\(pid)/consents", as: "general-hospital")
        #expect(try code == 200 && (JSON.parse(Array(text.utf8))).arrayValue?.first?["status"] == "revoked")
        (code, _) = try signed("general-hospital", "/v1/patients/PAT-00000000000000000000/consents", as: "general-hospital")
        #expect(code == 404)
        (code, text) = try signed("healthinsure", "/v1/claims/\(claim)/verification", as: "healthinsure")
        #expect(try code == 200 && (JSON.parse(Array(text.utf8)))["outcome"] == "approved")
        (code, _) = try signed("healthinsure", "/v1/claims/\(claim)/verification", as: "general-hospital")
        #expect(code == 403, "only the payer's own identities ask its node")
        (code, _) = try signed("general-hospital", "/v1/claims/\(claim)/verification", as: "general-hospital")
        #expect(code == 404, "only the payer can open a claim")
        (code, text) = try signed("general-hospital", "/v1/break-glass", as: "general-hospital")
        #expect(code == 200 && text.hasPrefix("[]"))
        r = try runTally(["access", "report", "PAT-00000000000000000000", "--dir", dir("general-hospital")])
        #expect(r.status == 1 && r.out.contains("unknown patient"), "\(r.out)")

        // The sponsor anchors its trial export; a one-byte change is detected.
        let export = root.appendingPathComponent("export.csv")
        try Data("subject,visit,value\nS1,1,42\nS2,1,17\n".utf8).write(to: export)
        r = try runTally(["anchor", export.path, "--label", "cardio-2026 v1", "--dir", dir("pharmacorp"), "--api", api("pharmacorp")])
        #expect(r.status == 0, "\(r.out)")
        try synced("pharmacorp")
        r = try runTally(["anchor", "verify", export.path, "--dir", dir("pharmacorp")])
        #expect(r.status == 0 && r.out.contains("UNCHANGED") && r.out.contains("proof verifies"), "\(r.out)")
        try Data("subject,visit,value\nS1,1,43\nS2,1,17\n".utf8).write(to: export)
        r = try runTally(["anchor", "verify", export.path, "--dir", dir("pharmacorp"), "--label", "cardio-2026 v1"])
        #expect(r.status == 3 && r.out.contains("CHANGED"), "\(r.out)")
        let digest = Hash32.sha256(Array("subject,visit,value\nS1,1,42\nS2,1,17\n".utf8)).hex
        (code, text) = try HTTP.request("GET", api("healthinsure"), "/v1/anchors/\(digest)")
        #expect(try code == 200 && (JSON.parse(Array(text.utf8)))["anchor"]?["label"] == "cardio-2026 v1")

        // Nodes logged at trace level (the most verbose) throughout, and no line carries health data: not the patient's
        // birth date or encounter date, not the claim's procedure or amount, not the query's SQL.
        c.stopAll()
        let birth = try #require(try views.rows("SELECT birth_date FROM v_patients WHERE patient_id = ?", [.text(pid)]).first?[0].textValue)
        var logs = ""
        for org in ["general-hospital", "city-medical", "healthinsure", "pharmacorp"] {
            logs += (try? String(contentsOf: root.appendingPathComponent("\(org).log"), encoding: .utf8)) ?? ""
        }
        #expect(logs.contains("debug") || logs.contains("DEBUG") || logs.contains("Request"), "the nodes logged at trace level")
        let today = String(MemberService.sqlTime(Clock.wallMillis()).prefix(10))
        for secret in [birth, date, "99213", "125.00", "12500", "COUNT(DISTINCT", "trial:cardio-2026 until"] where secret != today {
            #expect(!logs.contains(secret), "a node log carries health data")
        }
    }
}
