import Foundation
@testable import Ledger
import Testing

/// `patient.register_many`: many pseudonyms under one signature, all or none.
@Suite struct PatientBatchTests {
    static let ids = PatientIdentity(consortiumSecret: Array(repeating: 7, count: 32))
    static func entry(_ n: Int) -> JSON {
        ["patient": .string(ids.pseudonym(system: "urn:oid:national", identifier: "B-\(n)")),
         "demographic_hash": .string(ids.demographicHash(family: "f\(n)", given: "g", birthDate: "1970-01-01"))]
    }

    @Test func registersEveryPatientListedAndIsIdempotent() throws {
        let c = try TestConsortium()
        let first = try c.expectCommitted(c.signer("general-hospital").sign("patient.register_many", ["patients": .array((0..<300).map(Self.entry))]))
        #expect(first["patients"]?.intValue == 300 && first["new_locations"]?.intValue == 300)
        for n in [0, 150, 299] {
            let pid = try #require(Self.entry(n)["patient"]?.stringValue)
            #expect(try c.ledger.value(StateKey.patient(pid))?["locations"]?["general-hospital"] != nil)
        }
        // Again, with some new: only the new ones add a location.
        let again = try c.expectCommitted(c.signer("general-hospital").sign("patient.register_many", ["patients": .array((290..<310).map(Self.entry))]))
        #expect(again["new_locations"]?.intValue == 10)
    }

    @Test func oneBadEntryRefusesTheWholeBatchAndNamesIt() throws {
        let c = try TestConsortium()
        var list = (0..<5).map(Self.entry)
        list[3] = ["patient": "PAT-not-a-pseudonym", "demographic_hash": .string(String(repeating: "a", count: 64))]
        let root = c.ledger.head.hash
        let e = try c.expectRefused(c.signer("general-hospital").sign("patient.register_many", ["patients": .array(list)]))
        guard case .malformed(let m)? = e else { Issue.record("expected malformed, got \(String(describing: e))"); return }
        #expect(m.hasPrefix("patients[3]: "))
        #expect(c.ledger.head.hash == root)
        #expect(try c.ledger.value(StateKey.patient(Self.entry(0)["patient"]!.stringValue!)) == nil, "nothing of a refused batch is written")
    }

    /// A pseudonym is `PAT-` and 20 lowercase hex digits; a demographic hash 64 of them. The
    /// characters either side of each hex range, upper case and every length but the right one
    /// are refused.
    @Test func pseudonymAndDemographicHashFormsAreChecked() throws {
        let c = try TestConsortium()
        let good = Self.entry(1)
        let pid = good["patient"]!.stringValue!, demo = good["demographic_hash"]!.stringValue!
        func refused(_ patient: String, _ hash: String) throws -> Bool {
            try c.expectRefused(c.signer("general-hospital").sign("patient.register", ["patient": .string(patient), "demographic_hash": .string(hash)]))?.code == "malformed"
        }
        for bad in ["/", ":", "`", "g", "A", "F", "é"] {
            #expect(try refused(String(pid.dropLast()) + bad, demo), "pseudonym ending \(bad)")
            #expect(try refused(pid, bad + String(demo.dropFirst())), "hash starting \(bad)")
        }
        for bad in [String(pid.dropLast()), pid + "0", "PAT-", "", "pat-" + pid.dropFirst(4), "PAX-" + pid.dropFirst(4)] {
            #expect(try refused(bad, demo))
        }
        for bad in [String(demo.dropLast()), demo + "0", ""] { #expect(try refused(pid, bad)) }
        #expect(PatientContract.isPseudonym(pid) && PatientContract.isLowerHex(demo) && PatientContract.isLowerHex("0123456789abcdef"))
        #expect(!PatientContract.isLowerHex("ab", from: 3) && PatientContract.isLowerHex("zab", from: 1))
        _ = try c.expectCommitted(c.signer("general-hospital").sign("patient.register", ["patient": .string(pid), "demographic_hash": .string(demo)]))
    }

    @Test func sizeAndSenderAreChecked() throws {
        let c = try TestConsortium()
        #expect(try c.expectRefused(c.signer("general-hospital").sign("patient.register_many", ["patients": []]))?.code == "malformed")
        let tooMany = JSON.array((0...PatientContract.maxBatch).map(Self.entry))
        #expect(try c.expectRefused(c.signer("general-hospital").sign("patient.register_many", ["patients": tooMany]))?.code == "malformed")
        // A pharma sponsor holds no records: it registers no patients, one or many.
        #expect(try c.expectRefused(c.signer("pharmacorp").sign("patient.register_many", ["patients": .array([Self.entry(1)])]))?.code == "unauthorised")
    }
}
