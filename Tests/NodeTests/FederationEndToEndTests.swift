import Federation
import Foundation
import Ledger
import Node
import SQLiteStore
import Testing

/// Propose → vote → query → merged result across node processes, with a site that did not approve the
/// policy (refuses, named) and a site that is down (partial result, named); each merged result is
/// checked against the same aggregate computed directly over the sites' views with the suppression
/// rule applied.
@Suite(.serialized) struct FederationEndToEndTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let census = """
        SELECT p.region, p.sex, COUNT(DISTINCT p.patient_id) AS patients
        FROM patients p
        GROUP BY p.region, p.sex
        ORDER BY p.region, p.sex
        """

    /// The rule computed independently: per site, rows of fewer than k patients are withheld; the rest
    /// add up across the sites that answered.
    func expected(_ c: LocalConsortium, sites: [String], k: Int64) throws -> [String: Int64] {
        var total: [String: Int64] = [:]
        for s in sites {
            let db = try Database(path: c.directories[s]!.viewsPath, flags: [.readOnly])
            for row in try db.rows("SELECT region, sex, COUNT(DISTINCT patient_id) FROM v_patients GROUP BY region, sex") {
                guard let n = row[2].intValue, n >= k else { continue }
                total["\(row[0].textValue ?? "")|\(row[1].textValue ?? "")", default: 0] += n
            }
        }
        return total.filter { $0.value >= k }
    }

    func released(_ r: FederatedResult) -> [String: Int64] {
        var out: [String: Int64] = [:]
        for row in r.rows {
            guard case .value(.text(let region)) = row[0], case .value(.text(let sex)) = row[1], case .value(.integer(let n)) = row[2] else {
                Issue.record("unexpected row shape \(row)")
                continue
            }
            out["\(region)|\(sex)"] = n
        }
        return out
    }

    @Test func approvedSitesAnswerARejectingSiteRefusesADownSiteIsNamed() throws {
        let root = try temporaryDirectory("federation")
        defer { try? FileManager.default.removeItem(at: root) }
        let c = LocalConsortium(root: root, specs: [
            .init(org: "general-hospital", kind: .hospital, patients: 260),
            .init(org: "city-medical", kind: .hospital, patients: 200),
            .init(org: "valley-clinic", kind: .clinic, patients: 140),
            .init(org: "state-health", kind: .publicHealth, voting: false),
        ], executable: tallyExecutable().path, workingDirectory: Self.repo.path)
        try c.create()
        defer { c.stopAll() }
        try c.startAll()
        _ = try c.loadPopulations(today: String(MemberService.sqlTime(Clock.wallMillis()).prefix(10)), seed: 99,
                                  trialGrantee: "state-health", trialScope: "research:none", consentShare: 0)

        let doc: JSON = ["id": "regional-census", "purpose": "Patients by region and sex", "legal_basis": "public-health-surveillance",
                         "requesters": ["state-health"], "templates": [["sha256": .string(Hash32.sha256(Array(Self.census.utf8)).hex)]],
                         "ad_hoc": false, "k": 11, "allow_min_max": false, "expires": .int(Clock.wallMillis() + 86_400_000),
                         "approval": ["rule": "quorum", "quorum": 2]]
        let proposal = try c.commit([try c.signer("state-health").sign("policy.propose", ["document": doc])])[0]
        let hash = try #require(proposal["result"]?["hash"])
        for (org, vote) in [("general-hospital", "approve"), ("city-medical", "approve"), ("valley-clinic", "reject")] {
            try c.commit([try c.signer(org).sign("policy.vote", ["policy": "regional-census", "hash": hash, "vote": .string(vote)])])
        }

        #expect(c.waitForHeight(try c.directories["valley-clinic"]!.openLedger().height), "the requester's node has the votes")
        // All three up: two answer, the one that rejected the policy refuses and is named.
        let r1 = try c.query(as: "state-health", policy: "regional-census", sql: Self.census)
        #expect(r1.sitesAnswered == ["city-medical", "general-hospital"])
        #expect(r1.sitesRefused.map(\.site) == ["valley-clinic"] && r1.sitesRefused.first?.code == "policy_not_approved")
        #expect(r1.sitesMissing.isEmpty && !r1.isPartial)
        let want1 = try expected(c, sites: ["city-medical", "general-hospital"], k: r1.k)
        #expect(!want1.isEmpty)
        #expect(released(r1) == want1)

        // Outreach without disclosure: general-hospital lists its own patients behind the counts,
        // locally, from the same submission (pinned time, height, filters).
        let sqlFile = root.appendingPathComponent("census.sql")
        try Self.census.write(to: sqlFile, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = tallyExecutable()
        p.currentDirectoryURL = Self.repo
        p.arguments = ["cohort", "show", r1.queryID, "--dir", c.directories["general-hospital"]!.url.path, "--sql", sqlFile.path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let listing = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let lines = listing.split(separator: "\n").dropFirst()
        #expect(lines.count == 260, "every general-hospital patient, once, with region and sex")
        let db = try Database(path: c.directories["general-hospital"]!.viewsPath, flags: [.readOnly])
        let own = Set(try db.rows("SELECT patient_id FROM v_patients").compactMap { $0[0].textValue })
        #expect(Set(lines.compactMap { $0.split(separator: "\t").first.map(String.init) }) == own)

        // A custodian that is not allowed to ask is refused by every site.
        #expect(throws: (any Error).self) { try c.query(as: "general-hospital", policy: "regional-census", sql: Self.census) }

        // city-medical goes down: the result is partial, names it, and still matches the rule.
        c.stop("city-medical", signal: SIGKILL)
        let r2 = try c.query(as: "state-health", policy: "regional-census", sql: Self.census)
        #expect(r2.sitesAnswered == ["general-hospital"])
        #expect(r2.sitesMissing.map(\.site) == ["city-medical"] && r2.isPartial)
        #expect(released(r2) == (try expected(c, sites: ["general-hospital"], k: r2.k)))
        #expect(r2.height > r1.height, "each query is recorded on the ledger before it fans out")
    }
}
