import DeidSQL
import Federation
import Foundation
import Ledger
import SQLiteStore
import Testing
@testable import Workflows

@Suite struct AnchorTests {
    @Test func anAnchoredFileVerifiesAndAOneByteChangeDoesNot() throws {
        let c = try Consortium()
        let file = c.dir.appendingPathComponent("trial-export.csv")
        var bytes = Array("subject,visit,value\n".utf8) + (0..<5000).flatMap { Array("S\($0),1,\($0 % 97)\n".utf8) }
        try Data(bytes).write(to: file)
        let (digest, size) = try Anchors.digest(file: file.path)
        try c.commit(c.signer("pharmacorp").sign("anchor.record", ["sha256": .string(digest.hex), "label": "cardio-2026 export v1", "bytes": .int(size)]))
        guard case .unchanged(let entry, let proof) = try Anchors.verify(ledger: c.ledger, file: file.path, label: "cardio-2026 export v1", org: "pharmacorp") else {
            Issue.record("the anchored file must verify"); return
        }
        #expect(entry["submitter"] == "pharmacorp")
        try proof.verify(genesis: c.genesis)
        #expect(proof.header.height == entry["height"]?.intValue)
        // One byte changed.
        bytes[40] ^= 0x01
        try Data(bytes).write(to: file)
        guard case .changed(let anchored) = try Anchors.verify(ledger: c.ledger, file: file.path, label: "cardio-2026 export v1", org: "pharmacorp") else {
            Issue.record("a changed file must not verify"); return
        }
        #expect(anchored["sha256"]?.stringValue == digest.hex)
        guard case .notAnchored = try Anchors.verify(ledger: c.ledger, file: file.path) else { Issue.record("unknown bytes are not anchored"); return }
        // Anchoring the same bytes twice, or a malformed digest, is refused.
        #expect(try c.refused(c.signer("general-hospital").sign("anchor.record", ["sha256": .string(digest.hex), "label": "again"]))?.description.contains("already anchored") == true)
        #expect(try c.refused(c.signer("pharmacorp").sign("anchor.record", ["sha256": "abc", "label": "x"]))?.code == "malformed")
    }
}

@Suite struct ConsentPortalTests {
    @Test func grantListRevokeAndBadInput() throws {
        let c = try Consortium()
        let (pid, _) = try c.patient(1, at: "general-hospital")
        let portal = try c.enroll("general-hospital", "portal", role: Role.patientPortal)
        let g = try c.commit(portal.sign("consent.grant", ["patient": .string(pid), "grantee": "pharmacorp", "scope": "trial:cardio-2026", "expires": .int(c.now + 86_400_000)]))
        let consent = g[0].result["consent"]!.stringValue!
        let listed = try ConsentPortal.list(ledger: c.ledger, patient: pid, at: c.now)
        #expect(listed.map(\.id) == [consent] && listed[0].status == "active" && listed[0].grantee == "pharmacorp")
        // Consent for an unknown grantee, an unknown patient, an unknown scope: refused, nothing changes.
        #expect(try c.refused(portal.sign("consent.grant", ["patient": .string(pid), "grantee": "nobody-org", "scope": "research", "expires": .int(c.now + 86_400_000)]))?.description.contains("not an active member") == true)
        #expect(try c.refused(portal.sign("consent.grant", ["patient": .string(c.ids.pseudonym(system: "urn:test", identifier: "ghost")), "grantee": "pharmacorp", "scope": "research", "expires": .int(c.now + 86_400_000)]))?.description.contains("patient_not_found") == true)
        #expect(try c.refused(portal.sign("consent.grant", ["patient": .string(pid), "grantee": "pharmacorp", "scope": "everything", "expires": .int(c.now + 86_400_000)]))?.code == "malformed")
        #expect(throws: WorkflowError.self) { try ConsentPortal.list(ledger: c.ledger, patient: "PAT-00000000000000000000", at: c.now) }
        // Revoke once, then twice.
        try c.commit(portal.sign("consent.revoke", ["patient": .string(pid), "consent": .string(consent)]))
        #expect(try ConsentPortal.list(ledger: c.ledger, patient: pid, at: c.now)[0].status == "revoked")
        #expect(try c.refused(portal.sign("consent.revoke", ["patient": .string(pid), "consent": .string(consent)]))?.description.contains("already revoked") == true)
        // A physician cannot act for the patient.
        let doctor = try c.enroll("general-hospital", "dr-a", role: Role.physician)
        #expect(try c.refused(doctor.sign("consent.grant", ["patient": .string(pid), "grantee": "pharmacorp", "scope": "research", "expires": .int(c.now + 86_400_000)]))?.code == "unauthorised")
    }

    /// A revoked consent takes the patient out of the very next research query, through the member's
    /// real evaluation path (views, consent filter as of the pinned height).
    @Test func aRevokedConsentExcludesThePatientFromTheNextResearchQuery() throws {
        let c = try Consortium()
        var pids: [String] = []
        for n in 0..<14 { pids.append(try c.patient(n, at: "general-hospital").0) }
        let portal = try c.enroll("general-hospital", "portal", role: Role.patientPortal)
        var grants: [String: String] = [:]
        for pid in pids {
            grants[pid] = try c.commit(portal.sign("consent.grant", ["patient": .string(pid), "grantee": "pharmacorp", "scope": "trial:cardio-2026", "expires": .int(c.now + 86_400_000)]))[0].result["consent"]!.stringValue!
        }
        let doc: JSON = ["id": "trial", "purpose": "test", "k": 11, "expires": .int(c.now + 86_400_000), "requesters": ["pharmacorp"], "ad_hoc": true,
                         "consent": ["scope": "trial:cardio-2026"], "custodians": ["general-hospital"]]
        let hash = try c.commit(c.signer("pharmacorp").sign("policy.propose", ["document": doc]))[0].result["hash"]!
        try c.commit(c.signer("general-hospital").sign("policy.vote", ["policy": "trial", "hash": hash, "vote": "approve"]))
        let views = try ViewStore(path: c.dir.appendingPathComponent("views.sqlite").path, org: "general-hospital", chain: c.genesis.chain,
                                  agreementKey: c.orgs["general-hospital"]!.agreement)
        let member = MemberService(keys: c.orgs["general-hospital"]!, ledger: c.ledger, views: views, valueSets: [:])
        func count() throws -> Cell? {
            try views.catchUp(c.ledger)
            let h = c.ledger.height
            let r = QueryRequest(queryID: "q-\(h)", policyID: "trial", requester: "pharmacorp", sql: "SELECT COUNT(DISTINCT patient_id) AS n FROM patients",
                                 parameters: [:], pinnedTime: try c.ledger.block(at: h).header.time, pinnedHeight: h)
            return try member.evaluate(r, sign: false).result.rows.first?[0]
        }
        #expect(try count() == .value(.integer(14)))
        try c.commit(portal.sign("consent.revoke", ["patient": .string(pids[3]), "consent": .string(grants[pids[3]]!)]))
        #expect(try count() == .value(.integer(13)))
    }
}

@Suite struct AccessReportTests {
    /// The report lists exactly what happened to one patient — and nothing about another — each entry
    /// with an inclusion proof that verifies against the genesis file.
    @Test func theReportListsExactlyTheAccessesThatHappenedEachWithAProof() throws {
        let c = try Consortium()
        let (alice, aliceEnc) = try c.patient(1, at: "general-hospital")
        let (bob, _) = try c.patient(2, at: "general-hospital")
        let (carol, _) = try c.patient(3, at: "city-medical")
        let portal = try c.enroll("general-hospital", "portal", role: Role.patientPortal)
        let doctor = try c.enroll("city-medical", "dr-er", role: Role.physician)
        let steward = try c.enroll("general-hospital", "privacy-officer", role: Role.dataSteward)
        // 1. Alice consents to a trial (Bob does not).
        try c.commit(portal.sign("consent.grant", ["patient": .string(alice), "grantee": "pharmacorp", "scope": "trial:cardio-2026", "expires": .int(c.now + 86_400_000)]))
        // 2. Policies: a consent-based trial policy and a surveillance policy, both approved by both hospitals.
        for (id, consent, requester) in [("trial", true, "pharmacorp"), ("ili", false, "state-health")] {
            var doc: JSON = ["id": .string(id), "purpose": "test", "k": 11, "expires": .int(c.now + 86_400_000), "requesters": [.string(requester)], "ad_hoc": true]
            if consent { doc = doc.setting("consent", ["scope": "trial:cardio-2026"]) }
            let hash = try c.commit(c.signer(requester).sign("policy.propose", ["document": doc]))[0].result["hash"]!
            for h in ["general-hospital", "city-medical"] { try c.commit(c.signer(h).sign("policy.vote", ["policy": .string(id), "hash": hash, "vote": "approve"])) }
        }
        // 3. Queries: a trial query (reads Alice's data, not Bob's), and a surveillance query whose outcome
        //    is recorded with general-hospital as missing (so neither Alice nor Bob was read).
        let trial = try c.commit(c.signer("pharmacorp").sign("audit.query", ["query_hash": .string(String(repeating: "1", count: 64)), "policy": "trial"]))[0].result["query"]!.stringValue!
        try c.commit(c.signer("pharmacorp").sign("audit.result", ["query": .string(trial), "answered": ["city-medical", "general-hospital"], "refused": [], "missing": []]))
        let ili = try c.commit(c.signer("state-health").sign("audit.query", ["query_hash": .string(String(repeating: "2", count: 64)), "policy": "ili"]))[0].result["query"]!.stringValue!
        try c.commit(c.signer("state-health").sign("audit.result", ["query": .string(ili), "answered": ["city-medical"], "refused": [], "missing": ["general-hospital"]]))
        // 4. A decryption of Alice's encounter by general-hospital, and a break-glass access by city-medical's ER doctor.
        try c.commit(c.signer("general-hospital").sign("audit.decrypt", ["records": [.string(aliceEnc)], "purpose": "treatment"]))
        let bg = try c.commit(doctor.sign("consent.access", ["patient": .string(alice), "scope": "emergency", "purpose": "unconscious in ER"]))[0].result["access"]!.stringValue!
        try c.commit(steward.sign("consent.review", ["access": .string(bg), "outcome": "justified", "note": "ER admission confirmed"]))

        let report = try AccessReport.build(ledger: c.ledger, patient: alice)
        #expect(report.entries.map(\.kind) == ["consent", "query", "decryption", "break-glass", "review"])
        let q = report.entries[1]
        #expect(q.detail["query"]?.stringValue == trial && q.detail["policy"] == "trial" && q.detail["requester"] == "pharmacorp")
        #expect(q.detail["sites"] == ["general-hospital"])
        for e in report.entries { try e.proof.verify(genesis: c.genesis) }
        // The report's text never carries another query's results or another patient.
        #expect(!report.json.canonicalString.contains(bob) && !report.json.canonicalString.contains(carol))
        // Bob: no consent, so the trial query did not read him; the ILI query missed his site.
        #expect(try AccessReport.build(ledger: c.ledger, patient: bob).entries.isEmpty)
        // Carol at city-medical: read by the ILI query (no consent needed), not by the trial query.
        let carolReport = try AccessReport.build(ledger: c.ledger, patient: carol)
        #expect(carolReport.entries.map { $0.detail["query"]?.stringValue } == [ili])
        // An unknown patient is an error, not an empty report.
        #expect(throws: WorkflowError.self) { try AccessReport.build(ledger: c.ledger, patient: "PAT-00000000000000000000") }
    }
}

@Suite struct BreakGlassTests {
    @Test func emergencyAccessesWaitInTheQueueUntilReviewed() throws {
        let c = try Consortium()
        let (pid, _) = try c.patient(1, at: "general-hospital")
        let er = try c.enroll("city-medical", "dr-er", role: Role.physician)
        let officer = try c.enroll("general-hospital", "privacy-officer", role: Role.dataSteward)
        let a1 = try c.commit(er.sign("consent.access", ["patient": .string(pid), "scope": "emergency", "purpose": "cardiac arrest"]))[0].result["access"]!.stringValue!
        c.now += 3 * 86_400_000
        let a2 = try c.commit(er.sign("consent.access", ["patient": .string(pid), "scope": "emergency", "purpose": "follow-up"]))[0].result["access"]!.stringValue!
        let day: Int64 = 86_400_000
        var q = try BreakGlassQueue.pending(ledger: c.ledger, org: "general-hospital", now: c.now, reviewWithin: day)
        #expect(q.map(\.access) == [a1, a2])
        #expect(q.map(\.overdue) == [true, false])
        // The custodian of an unrelated patient sees nothing; the accessing organisation sees its own.
        #expect(try BreakGlassQueue.pending(ledger: c.ledger, org: "healthinsure", now: c.now, reviewWithin: day).isEmpty)
        #expect(try BreakGlassQueue.pending(ledger: c.ledger, org: "city-medical", now: c.now, reviewWithin: day).count == 2)
        try c.commit(officer.sign("consent.review", ["access": .string(a1), "outcome": "unjustified", "note": "no emergency on record"]))
        q = try BreakGlassQueue.pending(ledger: c.ledger, org: "general-hospital", now: c.now, reviewWithin: day)
        #expect(q.map(\.access) == [a2])
        // Reviewing twice, an outcome that is neither, or a review by the accessing physician, is refused.
        #expect(try c.refused(officer.sign("consent.review", ["access": .string(a1), "outcome": "justified"]))?.description.contains("needs no review") == true)
        #expect(try c.refused(er.sign("consent.review", ["access": .string(a2), "outcome": "justified"]))?.code == "unauthorised")
        #expect(try c.refused(officer.sign("consent.review", ["access": .string(a2), "outcome": "maybe"]))?.code == "malformed")
    }
}

@Suite struct QueryOutcomeTests {
    /// Outcomes ride on the requester's next submission; a bad, foreign or repeated one is skipped and
    /// never makes the new submission fail.
    @Test func outcomesRideOnTheNextSubmissionAndBadOnesAreSkipped() throws {
        let c = try Consortium()
        let doc: JSON = ["id": "census", "purpose": "test", "k": 11, "expires": .int(c.now + 86_400_000), "requesters": ["state-health", "pharmacorp"], "ad_hoc": true]
        let hash = try c.commit(c.signer("state-health").sign("policy.propose", ["document": doc]))[0].result["hash"]!
        try c.commit(c.signer("general-hospital").sign("policy.vote", ["policy": "census", "hash": hash, "vote": "approve"]))
        func submit(_ who: String, _ outcomes: [JSON]) throws -> JSON {
            try c.commit(c.signer(who).sign("audit.query", ["query_hash": .string(String(repeating: "a", count: 64)), "policy": "census", "outcomes": .array(outcomes)]))[0].result
        }
        let q1 = try submit("state-health", [])["query"]!.stringValue!
        let other = try submit("pharmacorp", [])["query"]!.stringValue!
        let outcome: JSON = ["query": .string(q1), "answered": ["general-hospital"], "refused": ["city-medical"], "missing": []]
        let r2 = try submit("state-health", [outcome, ["query": .string(other), "answered": [], "refused": [], "missing": []], ["nonsense": 1]])
        #expect(r2["outcomes_recorded"] == [.string(q1)], "only the requester's own, well-formed outcome is recorded")
        #expect(try c.ledger.value(StateKey.query(q1))?["sites"]?["answered"] == ["general-hospital"])
        #expect(try c.ledger.value(StateKey.query(other))?["sites"] == nil)
        // Carried again (a retried submission): skipped, the submission still commits.
        let r3 = try submit("state-health", [outcome])
        #expect(r3["outcomes_recorded"] == [] && r3["query"] != nil)
        // Alone, a repeated outcome is refused with its reason.
        #expect(try c.refused(c.signer("state-health").sign("audit.result", outcome))?.description.contains("already recorded") == true)
    }
}
