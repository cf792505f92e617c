import Federation
import Foundation
import Ledger
import Testing
@testable import Workflows

@Suite struct ClaimTests {
    /// general-hospital saw patient 1 on 2026-09-20; healthinsure authorises it for 99213 only.
    func setUp() throws -> (Consortium, String, String) {
        let c = try Consortium()
        let (pid, enc) = try c.patient(1, at: "general-hospital")
        try c.commit(c.signer("healthinsure").sign("claim.authorise", ["provider": "general-hospital", "procedures": ["99213", "99214"]]))
        try c.commit(c.signer("healthinsure").sign("claim.authorise", ["provider": "city-medical", "procedures": ["99213"]]))
        return (c, pid, enc)
    }

    func file(_ c: Consortium, _ claim: Claim, by provider: String) throws -> String {
        let args = try Claims.submission(claim, provider: c.orgs[provider]!, ledger: c.ledger, payer: "healthinsure")
        return try c.commit(c.signer(provider).sign("claim.submit", args))[0].result["claim"]!.stringValue!
    }

    @Test func aValidClaimIsApproved() throws {
        let (c, pid, enc) = try setUp()
        let id = try file(c, Claim(localID: "gh-1001", patient: pid, provider: "general-hospital", procedureCode: "99213", serviceDate: "2026-09-20",
                                   amountCents: 12_500, encounterRecord: enc), by: "general-hospital")
        let v = try ClaimVerifier(ledger: c.ledger, keys: c.orgs["healthinsure"]!).verify(id)
        #expect(v.outcome == .approved)
        #expect(v.claim.amountCents == 12_500)
        // The payer is not a reader of the encounter record it just relied on.
        let rec = try c.ledger.value(StateKey.record(enc))!
        #expect(!(rec["readers"]!.arrayValue!).contains(.string("healthinsure")))
        let ks = try c.ledger.value(StateKey.keyset(rec["keyset"]!.stringValue!))!
        #expect(throws: (any Error).self) { try Envelope.unwrap(chain: c.genesis.chain, keyset: ks, org: "healthinsure", key: c.orgs["healthinsure"]!.agreement) }
    }

    @Test func aClaimWithoutAnEncounterOnThatDateIsDenied() throws {
        let (c, pid, enc) = try setUp()
        // The right encounter record, but a different date: the commitment does not open.
        let wrongDate = try file(c, Claim(localID: "gh-1002", patient: pid, provider: "general-hospital", procedureCode: "99213", serviceDate: "2026-09-19",
                                          amountCents: 9_000, encounterRecord: enc), by: "general-hospital")
        // No encounter evidence at all.
        let noEvidence = try file(c, Claim(localID: "gh-1003", patient: pid, provider: "general-hospital", procedureCode: "99213", serviceDate: "2026-09-20",
                                           amountCents: 9_000), by: "general-hospital")
        // city-medical never saw the patient; it points at general-hospital's encounter.
        let otherSite = try file(c, Claim(localID: "cm-1", patient: pid, provider: "city-medical", procedureCode: "99213", serviceDate: "2026-09-20",
                                          amountCents: 9_000, encounterRecord: enc), by: "city-medical")
        let verifier = ClaimVerifier(ledger: c.ledger, keys: c.orgs["healthinsure"]!)
        for id in [wrongDate, noEvidence, otherSite] {
            let v = try verifier.verify(id)
            #expect(v.outcome == .denied)
            #expect(v.reason == "no_matching_encounter")
        }
    }

    @Test func aProcedureTheProviderIsNotAuthorisedForIsDenied() throws {
        let (c, pid, enc) = try setUp()
        let id = try file(c, Claim(localID: "gh-1004", patient: pid, provider: "general-hospital", procedureCode: "27447", serviceDate: "2026-09-20",
                                   amountCents: 3_000_000, encounterRecord: enc), by: "general-hospital")
        let v = try ClaimVerifier(ledger: c.ledger, keys: c.orgs["healthinsure"]!).verify(id)
        #expect(v.outcome == .denied)
        #expect(v.reason == "provider_not_authorised")
    }

    @Test func theSameServiceClaimedByTwoProvidersIsFlaggedToThePayerOnly() throws {
        let (c, pid, enc) = try setUp()
        // city-medical also saw the patient that day (patient 1 registered there as well).
        try c.commit(c.signer("city-medical").sign("patient.register", ["patient": .string(pid), "demographic_hash": .string(String(repeating: "cd", count: 32))]))
        let cmEnc = "city-medical/encounter/1"
        let args = try RecordBatch.arguments(chain: c.genesis.chain, keysetID: "ks-cm-1", readers: ["city-medical": c.orgs["city-medical"]!.agreement.publicKeyBase64],
                                             writers: ["city-medical"], items: [.init(key: cmEnc, patient: pid, type: "Encounter",
                                                                                      plaintext: RecordPayload.encounter(id: "X1", date: "2026-09-20", kind: "ambulatory", region: "north").bytes,
                                                                                      serviceDate: "2026-09-20")],
                                             serviceSecret: ServiceCommitment.secret(c.orgs["city-medical"]!))
        try c.commit(c.signer("city-medical").sign("record.put", args))
        let gh = try file(c, Claim(localID: "gh-2001", patient: pid, provider: "general-hospital", procedureCode: "99213", serviceDate: "2026-09-20",
                                   amountCents: 12_500, encounterRecord: enc), by: "general-hospital")
        let cm = try file(c, Claim(localID: "cm-2001", patient: pid, provider: "city-medical", procedureCode: "99213", serviceDate: "2026-09-20",
                                   amountCents: 11_000, encounterRecord: cmEnc), by: "city-medical")
        let verifier = ClaimVerifier(ledger: c.ledger, keys: c.orgs["healthinsure"]!)
        let a = try verifier.verify(gh), b = try verifier.verify(cm)
        #expect(a.outcome == .flagged && b.outcome == .flagged)
        #expect(a.duplicates.map(\.claim) == [cm] && a.duplicates.map(\.provider) == ["city-medical"])
        #expect(b.duplicates.map(\.claim) == [gh])
        // Neither provider can open the other's claim: the duplicate is named to the payer only.
        let ghVerifier = ClaimVerifier(ledger: c.ledger, keys: c.orgs["general-hospital"]!)
        #expect(throws: WorkflowError.self) { try ghVerifier.open(cm) }
        let cmRecord = try c.ledger.value(StateKey.record(c.ledger.value(StateKey.claim(cm))!["record"]!.stringValue!))!
        #expect(Set(cmRecord["readers"]!.arrayValue!.compactMap(\.stringValue)) == ["city-medical", "healthinsure"])
        // A different procedure the same day is not a duplicate.
        let other = try file(c, Claim(localID: "gh-2002", patient: pid, provider: "general-hospital", procedureCode: "99214", serviceDate: "2026-09-20",
                                      amountCents: 15_000, encounterRecord: enc), by: "general-hospital")
        #expect(try verifier.verify(other).outcome == .approved)
        // The payer's decision goes on the ledger.
        try c.commit(c.signer("healthinsure").sign("claim.decide", ["claim": .string(gh), "outcome": "flagged", "reason": "duplicate_across_providers"]))
        #expect(try c.ledger.value(StateKey.claim(gh))!["status"] == "flagged")
    }

    @Test func badClaimsAreRefusedAndChangeNothing() throws {
        let (c, pid, enc) = try setUp()
        let good = Claim(localID: "gh-3001", patient: pid, provider: "general-hospital", procedureCode: "99213", serviceDate: "2026-09-20", amountCents: 100, encounterRecord: enc)
        // Unknown patient: refused before anything is signed, and by the contract if signed anyway.
        var unknown = good
        unknown.patient = c.ids.pseudonym(system: "urn:test", identifier: "nobody")
        #expect(throws: WorkflowError("patient \(unknown.patient) is not registered on the ledger")) {
            try Claims.submission(unknown, provider: c.orgs["general-hospital"]!, ledger: c.ledger, payer: "healthinsure")
        }
        var args = try Claims.submission(good, provider: c.orgs["general-hospital"]!, ledger: c.ledger, payer: "healthinsure")
        let forged = args.setting("record", args["record"]!.setting("patient", .string(unknown.patient)))
        #expect(try c.refused(c.signer("general-hospital").sign("claim.submit", forged))?.description.contains("not registered") == true)
        // Malformed claims.
        var bad = good
        bad.serviceDate = "20/09/2026"
        #expect(throws: WorkflowError("service date must be YYYY-MM-DD")) { try bad.validate() }
        bad = good
        bad.amountCents = 0
        #expect(throws: WorkflowError.self) { try bad.validate() }
        #expect(try c.refused(c.signer("general-hospital").sign("claim.submit", ["payer": "healthinsure"]))?.code == "malformed")
        // A payer that is not an insurer.
        #expect(try c.refused(c.signer("general-hospital").sign("claim.submit", args.setting("payer", "pharmacorp")))?.description.contains("not an active insurer") == true)
        // A claim by a non-member: its signature names an organisation the ledger does not know.
        let stranger = TransactionSigner(chain: c.genesis.chain, identity: "shady-clinic", key: SigningKey(), clock: { c.now })
        #expect(try c.refused(stranger.sign("claim.submit", args))?.code == "unknown_sender")
        // A claim sealed for someone other than exactly provider + payer.
        args = try Claims.submission(Claim(localID: "gh-3002", patient: pid, provider: "general-hospital", procedureCode: "99213", serviceDate: "2026-09-20", amountCents: 100),
                                     provider: c.orgs["general-hospital"]!, ledger: c.ledger, payer: "healthinsure")
        let ks = try Envelope.makeKeySet(chain: c.genesis.chain, id: "ks-wide", readers: ["general-hospital": c.orgs["general-hospital"]!.agreement.publicKeyBase64,
                                                                                          "healthinsure": c.orgs["healthinsure"]!.agreement.publicKeyBase64,
                                                                                          "pharmacorp": c.orgs["pharmacorp"]!.agreement.publicKeyBase64])
        let wide = args.setting("keyset", ks.json).setting("record", args["record"]!.setting("keyset", "ks-wide"))
        #expect(try c.refused(c.signer("general-hospital").sign("claim.submit", wide))?.description.contains("exactly the provider and the payer") == true)
        // Only the payer decides, and only insurers authorise.
        let id = try file(c, good, by: "general-hospital")
        #expect(try c.refused(c.signer("general-hospital").sign("claim.decide", ["claim": .string(id), "outcome": "approved"]))?.code == "unauthorised")
        #expect(try c.refused(c.signer("pharmacorp").sign("claim.authorise", ["provider": "general-hospital", "procedures": ["1"]]))?.code == "unauthorised")
        // Verifying: unknown claim, and a claim addressed to another payer.
        let verifier = ClaimVerifier(ledger: c.ledger, keys: c.orgs["healthinsure"]!)
        #expect(throws: WorkflowError("no claim claim-0000 on this ledger")) { try verifier.verify("claim-0000") }
        #expect(throws: WorkflowError.self) { try ClaimVerifier(ledger: c.ledger, keys: c.orgs["pharmacorp"]!).verify(id) }
    }
}
