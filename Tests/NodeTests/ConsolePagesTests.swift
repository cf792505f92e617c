import Federation
import Foundation
import Ledger
import Node
import NodeAPI
import SQLiteStore
import Testing

/// The node's web pages against live node processes: each page's content, the console token guarding
/// votes, a policy approved through the page landing on the ledger, and — where Chromium and Selenium
/// are installed (`.ci/pages-check` installs them) — every page loaded in headless Chromium with a
/// screenshot and the approval clicked in the browser.
@Suite(.serialized) struct ConsolePagesTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func pagesShowTheLedgerPoliciesSurveillanceAndAuditAndVotesNeedTheToken() throws {
        let root = try temporaryDirectory("pages")
        defer { try? FileManager.default.removeItem(at: root) }
        let c = LocalConsortium(root: root, specs: [
            .init(org: "general-hospital", kind: .hospital, patients: 400),
            .init(org: "city-medical", kind: .hospital, patients: 300),
            .init(org: "state-health", kind: .publicHealth, voting: false),
        ], executable: tallyExecutable().path, workingDirectory: Self.repo.path)
        try c.create()
        defer { c.stopAll() }
        try c.startAll()
        _ = try c.loadPopulations(today: String(MemberService.sqlTime(Clock.wallMillis()).prefix(10)), seed: 11,
                                  trialGrantee: "state-health", trialScope: "trial:flu-2026", consentShare: 0.3)
        let gh = c.apis["general-hospital"]!, sh = c.apis["state-health"]!
        func page(_ api: String, _ path: String) throws -> (Int, String) { try HTTP.request("GET", api, path) }

        // Surveillance: both hospitals approve the ILI policy; public health pulls.
        var r = try runTally(["policy", "propose", "--dir", c.directories["state-health"]!.url.path, "--api", sh, "Policies/ili-surveillance.json"])
        #expect(r.status == 0, "\(r.out)")
        try #require(c.waitForHeight(try c.directories["state-health"]!.openLedger().height))
        for org in ["general-hospital", "city-medical"] {
            r = try runTally(["policy", "vote", "--dir", c.directories[org]!.url.path, "--api", c.apis[org]!, "approve", "ili-surveillance"])
            #expect(r.status == 0, "\(r.out)")
            try #require(c.waitForHeight(try c.directories[org]!.openLedger().height))
        }
        r = try runTally(["surveillance", "pull", "--dir", c.directories["state-health"]!.url.path, "--api", sh, "--policy", "ili-surveillance"])
        #expect(r.status == 0, "\(r.out)")
        // A population this small releases no region-day (each has fewer than k cases), so the chart
        // is given a week of stored counts as a larger pull would leave them: released counts, one
        // suppressed cell, and region-days never released.
        let store = try SurveillanceResults(path: c.directories["state-health"]!.url.appendingPathComponent("results.sqlite").path)
        var stored: [SurveillanceResults.Row] = []
        for (i, day) in ["2026-11-14", "2026-11-15", "2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"].enumerated() {
            stored.append(.init(queryID: "query-test", policyID: "ili-surveillance", height: 1, pinnedTime: 0, region: "north", day: day,
                                valueSet: "influenza-like-illness", count: i == 3 ? nil : Int64(12 + 3 * i), sitesAnswered: ["general-hospital"], sitesMissing: []))
            if i % 2 == 0 {
                stored.append(.init(queryID: "query-test", policyID: "ili-surveillance", height: 1, pinnedTime: 0, region: "south", day: day,
                                    valueSet: "influenza-like-illness", count: Int64(20 + i), sitesAnswered: ["general-hospital"], sitesMissing: []))
            }
        }
        _ = try store.append(stored)
        // A policy waiting for general-hospital's decision.
        let hyper = try String(contentsOf: Self.repo.appendingPathComponent("Queries/hypertension_prevalence.sql"), encoding: .utf8)
        let doc: JSON = ["id": "hypertension-prevalence", "purpose": "Hypertension prevalence by age band and region", "legal_basis": "public-health-surveillance",
                         "requesters": ["state-health"], "templates": [["sha256": .string(Hash32.sha256(Array(hyper.utf8)).hex)]], "ad_hoc": false, "k": 11,
                         "expires": .int(Clock.wallMillis() + 86_400_000), "approval": ["rule": "all"]]
        c.refreshSigners()
        try c.commit([try c.signer("state-health").sign("policy.propose", ["document": doc])])
        try #require(c.waitForHeight(try c.directories["state-health"]!.openLedger().height))

        // Node and explorer pages.
        var (code, html) = try page(gh, "/")
        #expect(code == 200 && html.contains("general-hospital") && html.contains("ledger height"))
        (code, html) = try page(gh, "/explorer")
        #expect(code == 200 && html.contains("/explorer/blocks/1"))
        (code, html) = try page(gh, "/explorer/blocks/1")
        #expect(code == 200 && html.contains("transactions root"))
        let ledger = try c.directories["general-hospital"]!.openLedger()
        let someTx = try ledger.block(at: ledger.height).transactions[0].hash.hex
        (code, html) = try page(gh, "/explorer/tx/\(someTx)")
        #expect(code == 200 && html.contains("Proof verifies") && html.contains("tally ledger check-proof"))
        // Pages never show a transaction's arguments (sealed records, consents): no record key appears.
        (code, html) = try page(gh, "/explorer/blocks/3")
        #expect(!html.contains("general-hospital/patient/"))

        // The policy queue: the pending policy with its SQL, its validation and this site's preview.
        (code, html) = try page(gh, "/policies")
        #expect(code == 200 && html.contains("policy-hypertension-prevalence") && html.contains("[pending]"))
        #expect(html.contains("Validation: accepted") && html.contains("What <b>general-hospital</b> would release now"))
        #expect(html.contains("approve-hypertension-prevalence") && html.contains("hypertension_prevalence.sql"))
        // A vote without the token, or with a wrong one, is refused and changes nothing.
        var (pc, pt) = try HTTP.request("POST", gh, "/policies/hypertension-prevalence/vote", body: Array("vote=approve".utf8))
        #expect(pc == 403 && pt.contains("console token"))
        (pc, _) = try HTTP.request("POST", gh, "/policies/hypertension-prevalence/vote", body: Array("vote=approve&token=00".utf8))
        #expect(pc == 403)
        #expect(try c.directories["general-hospital"]!.openLedger().value(StateKey.policy("hypertension-prevalence"))?["votes"]?["general-hospital"] == nil)

        // Surveillance chart on the public-health node; suppressed days marked, not zero.
        (code, html) = try page(sh, "/surveillance")
        #expect(code == 200 && html.contains("<svg id=chart") && html.contains("influenza-like-illness"))
        // north on 11-17 (a suppressed cell) and south on four days never released: 4 marked, none drawn as 0.
        #expect(html.contains("region-day(s) suppressed") && html.contains("class=suppressed"))
        #expect(html.contains("north 2026-11-17: suppressed") && !html.contains(": 0</title>"))

        // Audit view for a patient with a consent on record.
        let pid = try #require(try Database(path: c.directories["general-hospital"]!.viewsPath, flags: [.readOnly])
            .rows("SELECT patient_id FROM v_consents ORDER BY patient_id LIMIT 1").first?[0].textValue)
        let token = try ConsolePages.token(in: c.directories["general-hospital"]!.url)
        let tokenField = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        (code, html) = try page(gh, "/audit")
        #expect(code == 200 && html.contains("name=patient") && html.contains("name=token"))
        (code, html) = try HTTP.request("POST", gh, "/audit", body: Array("patient=\(pid)".utf8))
        #expect(code == 403, "the audit view needs the console token")
        (code, html) = try HTTP.request("POST", gh, "/audit", body: Array("patient=\(pid)&token=\(tokenField)".utf8))
        #expect(code == 200 && html.contains("consent") && html.contains("verifies"))
        let chromium = FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
        if chromium || ProcessInfo.processInfo.environment["TALLY_PAGES_CHROMIUM"] == "1" {
            // In the browser: every page, a screenshot each, and the approval clicked.
            let shots = ProcessInfo.processInfo.environment["TALLY_SCREENSHOTS"] ?? root.appendingPathComponent("screenshots").path
            try FileManager.default.createDirectory(atPath: shots, withIntermediateDirectories: true)
            let spec: JSON = ["base": .string("http://\(gh)"), "token": .string(token), "policy": "hypertension-prevalence", "out": .string(shots),
                              "pages": [
                                ["name": "node", "path": "/", "expect": ["general-hospital", "ready"]],
                                ["name": "explorer", "path": "/explorer", "expect": ["Ledger height"]],
                                ["name": "block", "path": "/explorer/blocks/1", "expect": ["transactions root"]],
                                ["name": "transaction", "path": .string("/explorer/tx/\(someTx)"), "expect": ["Proof verifies"]],
                                ["name": "policies", "path": "/policies", "expect": ["hypertension-prevalence", "Validation: accepted", "would release now"]],
                                ["name": "audit", "path": "/audit", "fill": ["patient": .string(pid), "token": .string(token)], "submit": "show-report",
                                 "expect": ["consent", "verifies"]],
                                // The surveillance page lives on the public-health node.
                                ["name": "surveillance", "url": .string("http://\(sh)/surveillance"), "expect": ["influenza-like-illness", "suppressed"]],
                              ]]
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["python3", Self.repo.appendingPathComponent(".ci/pages_check.py").path]
            let input = Pipe(), out = Pipe()
            p.standardInput = input
            p.standardOutput = out
            p.standardError = out
            try p.run()
            input.fileHandleForWriting.write(Data(spec.canonicalString.utf8))
            try input.fileHandleForWriting.close()
            let log = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            print(log)
            #expect(p.terminationStatus == 0, "\(log)")
        } else {
            // Without a browser, the same approval through the page's form, as the browser posts it.
            (pc, pt) = try HTTP.request("POST", gh, "/policies/hypertension-prevalence/vote", body: Array("token=\(tokenField)&vote=approve".utf8))
            #expect(pc == 303, "\(pt)")
            print("Chromium not installed: pages checked over HTTP only (run .ci/pages-check for the browser run)")
        }
        #expect(poll(seconds: 20) {
            (try? c.directories["general-hospital"]!.openLedger().value(StateKey.policy("hypertension-prevalence")))??["votes"]?["general-hospital"]?["vote"] == "approve"
        }, "the vote cast through the page is on the ledger")
    }
}
