import Crypto
import Foundation
@testable import Ledger
import Testing

@Suite struct ConsentTests {
    let day: Int64 = 86_400_000

    @Test func consentAsOfHeightFollowsGrantRevokeRegrant() throws {
        let c = try TestConsortium()
        let portal = try c.enroll("general-hospital", "portal", role: Role.patientPortal)
        let pid = try c.registerPatient(1)
        let key = StateKey.patient(pid)
        let hRegistered = c.ledger.height

        let g1 = try c.expectCommitted(portal.sign("consent.grant", ["patient": .string(pid), "grantee": "pharmacorp", "scope": "trial:cardio-2026", "expires": .int(c.now + 365 * day)]))
        let hGranted = c.ledger.height
        let consent1 = try #require(g1["consent"]?.stringValue)
        try c.expectCommitted(portal.sign("consent.revoke", ["patient": .string(pid), "consent": .string(consent1)]))
        let hRevoked = c.ledger.height
        let g2 = try c.expectCommitted(portal.sign("consent.grant", ["patient": .string(pid), "grantee": "pharmacorp", "scope": "trial:cardio-2026", "expires": .int(c.now + 365 * day)]))
        let hRegranted = c.ledger.height
        let consent2 = try #require(g2["consent"]?.stringValue)
        #expect(consent1 != consent2)

        func decision(_ h: Int64) throws -> ConsentDecision {
            let entry = try c.ledger.value(key, asOf: h)
            let time = try c.ledger.block(at: h).header.time
            return ConsentContract.verify(patient: entry, grantee: "pharmacorp", scope: "trial:cardio-2026", at: time)
        }
        #expect(try decision(hRegistered - 1).reason == "patient_not_found")
        #expect(try decision(hRegistered).reason == "no_active_consent")
        #expect(try decision(hGranted) == ConsentDecision(allowed: true, consentID: consent1, reason: nil, requiresReview: false))
        #expect(try decision(hRevoked).reason == "revoked")
        #expect(try decision(hRegranted) == ConsentDecision(allowed: true, consentID: consent2, reason: nil, requiresReview: false))
        // Other grantees and scopes see nothing.
        let now = try #require(try c.ledger.value(key))
        #expect(ConsentContract.verify(patient: now, grantee: "healthinsure", scope: "trial:cardio-2026", at: c.now).reason == "no_active_consent")
        #expect(ConsentContract.verify(patient: now, grantee: "pharmacorp", scope: "research", at: c.now).reason == "no_active_consent")
    }

    @Test func expiredConsentIsRefusedWithReason() throws {
        let c = try TestConsortium()
        let portal = try c.enroll("general-hospital", "portal", role: Role.patientPortal)
        let pid = try c.registerPatient(1)
        try c.expectCommitted(portal.sign("consent.grant", ["patient": .string(pid), "grantee": "city-medical", "scope": "treatment", "expires": .int(c.now + 5000)]))
        let p = try c.ledger.value(StateKey.patient(pid))
        #expect(ConsentContract.verify(patient: p, grantee: "city-medical", scope: "treatment", at: c.now).allowed)
        #expect(ConsentContract.verify(patient: p, grantee: "city-medical", scope: "treatment", at: c.now + 5000).reason == "expired")
        // "all" scope covers any scope.
        try c.expectCommitted(portal.sign("consent.grant", ["patient": .string(pid), "grantee": "city-medical", "scope": "all", "expires": .int(c.now + 50_000)]))
        let p2 = try c.ledger.value(StateKey.patient(pid))
        #expect(ConsentContract.verify(patient: p2, grantee: "city-medical", scope: "payment", at: c.now).allowed)
    }

    @Test func accessIsDecidedOnLedgerAndAudited() throws {
        let c = try TestConsortium()
        let portal = try c.enroll("general-hospital", "portal", role: Role.patientPortal)
        let doctor = try c.enroll("city-medical", "dr-jones", role: Role.physician)
        let pid = try c.registerPatient(1)
        let denied = try c.expectCommitted(doctor.sign("consent.access", ["patient": .string(pid), "scope": "treatment", "purpose": "referral"]))
        #expect(denied["allowed"] == false)
        #expect(denied["reason"] == "no_active_consent")
        try c.expectCommitted(portal.sign("consent.grant", ["patient": .string(pid), "grantee": "city-medical", "scope": "treatment", "expires": .int(c.now + day)]))
        let allowed = try c.expectCommitted(doctor.sign("consent.access", ["patient": .string(pid), "scope": "treatment", "purpose": "referral"]))
        #expect(allowed["allowed"] == true)
        let trail = try c.ledger.entries(prefix: StateKey.auditPrefix(pid)).map(\.value)
        #expect(trail.map { $0["event"]?.stringValue } == ["access", "consent.granted", "access"])
        #expect(trail.allSatisfy { $0["actor"] != nil && $0["time"] != nil })
        #expect(trail[0]["actor"] == "city-medical/dr-jones")
        #expect(trail[0]["allowed"] == false)
    }

    @Test func breakGlassIsAllowedButFlaggedForReview() throws {
        let c = try TestConsortium()
        let er = try c.enroll("city-medical", "dr-er", role: Role.physician)
        let steward = try c.enroll("general-hospital", "steward", role: Role.dataSteward)
        let outsider = try c.enroll("valley-clinic", "steward", role: Role.dataSteward)
        let pid = try c.registerPatient(1)
        let r = try c.expectCommitted(er.sign("consent.access", ["patient": .string(pid), "scope": "emergency", "purpose": "unconscious patient"]))
        #expect(r["allowed"] == true)
        #expect(r["requires_review"] == true)
        #expect(r["reason"] == "emergency_override")
        let access = try #require(r["access"]?.stringValue)
        #expect(try c.ledger.value(StateKey.access(access))?["review"]?["status"] == "pending")
        let audit = try c.ledger.entries(prefix: StateKey.auditPrefix(pid))
        #expect(audit.last?.value["event"] == "access.break_glass")
        #expect(audit.last?.value["break_glass"] == true)

        // A steward of an organisation that neither accessed nor holds records may not review.
        let e = try c.expectRefused(outsider.sign("consent.review", ["access": .string(access), "outcome": "justified"]))
        guard case .unauthorised? = e else { Issue.record("expected unauthorised"); return }
        // The custodian's steward reviews; the review is a transaction.
        try c.expectCommitted(steward.sign("consent.review", ["access": .string(access), "outcome": "justified", "note": "ED admission"]))
        let reviewed = try c.ledger.value(StateKey.access(access))
        #expect(reviewed?["review"]?["status"] == "justified")
        #expect(reviewed?["review"]?["reviewer"] == "general-hospital/steward")
        // Reviewing twice is refused.
        #expect(try c.expectRefused(steward.sign("consent.review", ["access": .string(access), "outcome": "unjustified"])) == .rejected("access \(access) needs no review"))
    }

    @Test func pseudonymsAreKeyedAndStable() {
        let a = PatientIdentity(consortiumSecret: Array(repeating: 1, count: 32))
        let b = PatientIdentity(consortiumSecret: Array(repeating: 2, count: 32))
        let p = a.pseudonym(system: "urn:ssn", identifier: "123-45-6789")
        #expect(p.hasPrefix("PAT-") && p.count == 24)
        #expect(p == a.pseudonym(system: "URN:SSN ", identifier: " 123-45-6789"))
        #expect(p != b.pseudonym(system: "urn:ssn", identifier: "123-45-6789"))
        #expect(!p.contains("6789"))
    }

    /// The trimming shortcut gives Foundation's answer, for white space of every kind at either end.
    @Test func trimmingMatchesFoundation() {
        let samples = ["", " ", "a", "abc", " abc", "abc ", "\tabc\n", "\u{00A0}abc", "abc\u{2003}", "\u{3000}x\u{3000}",
                       "é", "éa", "aé", "\u{85}a", "a\u{85}", "a b", "\r\n", "~", "\u{7F}a", "a\u{7F}", "\u{1F}a"]
        for s in samples {
            #expect(PatientIdentity.trimmed(s) == s.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(PatientIdentity.normalise(s) == s.trimmingCharacters(in: .whitespacesAndNewlines).lowercased())
        }
    }

    /// Each keyed hash equals a one-shot HMAC-SHA256 of its message (the identity keeps a keyed
    /// HMAC and copies it per hash; a copy must not carry state from the one before).
    @Test func keyedHashesEqualOneShotHMACs() {
        let secret = (0..<32).map { UInt8($0) }
        let ids = PatientIdentity(consortiumSecret: secret)
        func hmac(_ m: String) -> String { Array(HMAC<SHA256>.authenticationCode(for: Array(m.utf8), using: SymmetricKey(data: secret))).hexString }
        for _ in 0..<2 {
            #expect(ids.pseudonym(system: "urn:ssn", identifier: "1") == "PAT-" + hmac("tally/patient/v1|urn:ssn|1").prefix(20))
            #expect(ids.recordKey(org: "gh", type: "Encounter", sourceID: "e1") == "gh/Encounter/" + hmac("tally/record-key/v1|gh|Encounter|e1").prefix(32))
            #expect(ids.demographicHash(family: "Doe", given: "Jo", birthDate: "1970-01-01") == hmac("tally/demographic/v1|doe|jo|1970-01-01"))
        }
    }
}
