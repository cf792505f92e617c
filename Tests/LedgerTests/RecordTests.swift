import Foundation
@testable import Ledger
import Testing

@Suite struct RecordEncryptionTests {
    func readers(_ c: TestConsortium, _ ids: [String]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: ids.map { ($0, c.orgs[$0]!.agreement.publicKeyBase64) })
    }

    func putNote(_ c: TestConsortium, pid: String, key: String = "note-1", text: String = "chief complaint: chest pain", readerIDs: [String] = ["general-hospital", "city-medical"]) throws -> JSON {
        let args = try RecordBatch.arguments(chain: c.genesis.chain, keysetID: "ks-\(UUID().uuidString.prefix(8).lowercased())", readers: readers(c, readerIDs),
                                             writers: ["general-hospital"], items: [.init(key: key, patient: pid, type: "clinical-note", plaintext: Array(text.utf8))])
        return try c.expectCommitted(c.signer("general-hospital").sign("record.put", args))
    }

    func open(_ c: TestConsortium, _ key: String, as org: String) throws -> String {
        let record = try #require(try c.ledger.value(StateKey.record(key)))
        let keyset = try #require(try c.ledger.value(StateKey.keyset(record["keyset"]!.stringValue!)))
        let dk = try Envelope.unwrap(chain: c.genesis.chain, keyset: keyset, org: org, key: c.orgs[org]!.agreement)
        return String(decoding: try Envelope.open(record: record, key: dk), as: UTF8.self)
    }

    @Test func readersDecryptAndNonReadersSeeOnlyCiphertext() throws {
        let c = try TestConsortium()
        let pid = try c.registerPatient(1)
        _ = try putNote(c, pid: pid)
        #expect(try open(c, "note-1", as: "general-hospital") == "chief complaint: chest pain")
        #expect(try open(c, "note-1", as: "city-medical") == "chief complaint: chest pain")
        // A non-reader has no wrap.
        #expect(throws: Envelope.Failure.self) { try open(c, "note-1", as: "healthinsure") }
        // Nor can a non-reader use a reader's wrap with its own key.
        let record = try #require(try c.ledger.value(StateKey.record("note-1")))
        let keyset = try #require(try c.ledger.value(StateKey.keyset(record["keyset"]!.stringValue!)))
        #expect(throws: Envelope.Failure.self) {
            try Envelope.unwrap(chain: c.genesis.chain, keyset: keyset, org: "general-hospital", key: c.orgs["healthinsure"]!.agreement)
        }
        // The plaintext is nowhere in the ledger file.
        let file = try Data(contentsOf: URL(fileURLWithPath: c.ledger.path))
        #expect(file.range(of: Data("chest pain".utf8)) == nil)
        // Readers and writers are public; the patient's location index marks the site as holding records.
        #expect(record["readers"] == ["city-medical", "general-hospital"])
        let here = try c.ledger.value(StateKey.patient(pid))?["locations"]?["general-hospital"]
        #expect(here?["records_since"] != nil && here?["since"] != nil)
    }

    /// The record-location index marks an organisation as holding a patient's records when its first
    /// record of the patient commits, once: a registration alone does not mark it, a writer that never
    /// registered the patient is added, and later records leave the patient's entry untouched.
    @Test func locationIndexMarksRecordHoldersOnce() throws {
        let c = try TestConsortium()
        let pid = try c.registerPatient(1)
        _ = try c.registerPatient(1, at: "city-medical")
        var p = try #require(try c.ledger.value(StateKey.patient(pid)))
        #expect(!PatientContract.holdsRecords(p, org: "general-hospital") && !PatientContract.holdsRecords(p, org: "city-medical"))
        _ = try putNote(c, pid: pid)
        p = try #require(try c.ledger.value(StateKey.patient(pid)))
        #expect(PatientContract.holdsRecords(p, org: "general-hospital") && !PatientContract.holdsRecords(p, org: "city-medical"))
        func versions() throws -> Int64? {
            try c.ledger.db.scalar("SELECT count(*) FROM state_history WHERE key = ?", [.text(StateKey.patient(pid))])?.intValue
        }
        let before = try versions()
        _ = try putNote(c, pid: pid, key: "note-2")
        #expect(try versions() == before && before == 3) // registered here, registered there, marked
        // A writer that never registered the patient: added to the index, holding records.
        let other = try c.registerPatient(2)
        let args = try RecordBatch.arguments(chain: c.genesis.chain, keysetID: "ks-city", readers: readers(c, ["city-medical"]), writers: ["city-medical"],
                                             items: [.init(key: "city-note", patient: other, type: "clinical-note", plaintext: Array("x".utf8))])
        try c.expectCommitted(c.signer("city-medical").sign("record.put", args))
        p = try #require(try c.ledger.value(StateKey.patient(other)))
        #expect(PatientContract.holdsRecords(p, org: "city-medical") && p["locations"]?["city-medical"]?["since"] != nil)
        // Entries from before the mark counted records instead.
        #expect(PatientContract.holdsRecords(["locations": ["gh": ["records": 3, "updated": 1]]], org: "gh"))
        #expect(!PatientContract.holdsRecords(["locations": ["gh": ["records": 0, "updated": 1]]], org: "gh"))
    }

    /// The associated data binding a sealed record to its keyset, key and version, byte for byte as
    /// records already on ledgers were sealed with.
    @Test func recordAssociatedDataIsStable() {
        #expect(Envelope.recordAAD(keyset: "ks-1", key: "general-hospital/Encounter/é", version: 12) == Array("tally/record/v1|ks-1|general-hospital/Encounter/é|12".utf8))
        #expect(Envelope.recordAAD(keyset: "", key: "", version: -1) == Array("tally/record/v1|||-1".utf8))
    }

    @Test func tamperedCiphertextOrCommitmentIsDetected() throws {
        let c = try TestConsortium()
        let pid = try c.registerPatient(1)
        _ = try putNote(c, pid: pid)
        let record = try #require(try c.ledger.value(StateKey.record("note-1")))
        let keyset = try #require(try c.ledger.value(StateKey.keyset(record["keyset"]!.stringValue!)))
        let dk = try Envelope.unwrap(chain: c.genesis.chain, keyset: keyset, org: "general-hospital", key: c.orgs["general-hospital"]!.agreement)
        var sealed = [UInt8](base64: record["sealed"]!.stringValue!)!
        sealed[sealed.count / 2] ^= 1
        #expect(throws: Envelope.Failure.self) { try Envelope.open(record: record.setting("sealed", .string(sealed.base64)), key: dk) }
        #expect(throws: Envelope.Failure.self) { try Envelope.open(record: record.setting("commitment", .string(String(repeating: "0", count: 64))), key: dk) }
        // Ciphertext moved to another record key or version does not open (bound by associated data).
        #expect(throws: Envelope.Failure.self) { try Envelope.open(record: record.setting("key", "note-2"), key: dk) }
        #expect(throws: Envelope.Failure.self) { try Envelope.open(record: record.setting("version", 2), key: dk) }
    }

    @Test func onlyWritersUpdateAndVersionsAdvanceByOne() throws {
        let c = try TestConsortium()
        let pid = try c.registerPatient(1)
        _ = try putNote(c, pid: pid)
        let ids = ["general-hospital", "city-medical"]
        func update(_ org: String, version: Int64) throws -> Transaction {
            let args = try RecordBatch.arguments(chain: c.genesis.chain, keysetID: "ks-\(org)-\(version)-\(UUID().uuidString.prefix(6).lowercased())", readers: readers(c, Array(Set(ids + [org]))),
                                                 writers: ["general-hospital"], items: [.init(key: "note-1", patient: pid, type: "clinical-note", version: version, plaintext: Array("amended".utf8))])
            return c.signer(org).sign("record.put", args)
        }
        // City Medical is a reader, not a writer.
        let e = try c.expectRefused(try update("city-medical", version: 2))
        #expect(e == .unauthorised("city-medical is not a writer of record note-1"))
        #expect(try c.expectRefused(try update("general-hospital", version: 3)) == .rejected("record note-1 is at version 1; update must be version 2"))
        try c.expectCommitted(try update("general-hospital", version: 2))
        #expect(try open(c, "note-1", as: "city-medical") == "amended")
        #expect(try c.ledger.value(StateKey.record("note-1"))?["version"] == 2)
    }

    @Test func decryptionByAUserLeavesAnAuditEvent() throws {
        let c = try TestConsortium()
        let doctor = try c.enroll("city-medical", "dr-jones", role: Role.physician)
        let pid = try c.registerPatient(1)
        _ = try putNote(c, pid: pid)
        try c.expectCommitted(doctor.sign("audit.decrypt", ["records": ["note-1"], "purpose": "treatment"]))
        let events = try c.ledger.entries(prefix: StateKey.auditPrefix(pid)).map(\.value)
        #expect(events.last?["event"] == "record.decrypted")
        #expect(events.last?["actor"] == "city-medical/dr-jones")
        // A user of a non-reader organisation cannot claim a decryption.
        let clerk = try c.enroll("healthinsure", "clerk", role: Role.claimsOfficer)
        #expect(try c.expectRefused(clerk.sign("audit.decrypt", ["records": ["note-1"], "purpose": "claims"])) == .unauthorised("healthinsure is not a reader of record note-1"))
    }

    @Test func oneKeysetServesABatchOfRecords() throws {
        let c = try TestConsortium()
        var pids: [String] = []
        for i in 0..<5 { pids.append(try c.registerPatient(i)) }
        let items = (0..<200).map { RecordBatch.Item(key: "enc-\($0)", patient: pids[$0 % 5], type: "encounter", plaintext: Array("{\"n\":\($0)}".utf8)) }
        let args = try RecordBatch.arguments(chain: c.genesis.chain, keysetID: "ks-batch", readers: readers(c, ["general-hospital"]), writers: ["general-hospital"], items: items)
        #expect(args["keysets"]?.arrayValue?.count == 1)
        try c.expectCommitted(c.signer("general-hospital").sign("record.put", args))
        #expect(try open(c, "enc-123", as: "general-hospital") == "{\"n\":123}")
        #expect(try PatientContract.holdsRecords(c.ledger.value(StateKey.patient(pids[0]))!, org: "general-hospital"))
        // A batch's salts and nonces are drawn together: every record's nonce (the first 12 bytes of
        // its sealed form) must differ, and identical plaintexts must not seal alike.
        let same = (0..<300).map { RecordBatch.Item(key: "same-\($0)", patient: pids[0], type: "note", plaintext: Array("x".utf8)) }
        let sealed = try RecordBatch.arguments(chain: c.genesis.chain, keysetID: "ks-same", readers: readers(c, ["general-hospital"]), writers: ["general-hospital"], items: same)["records"]!
            .arrayValue!.map { [UInt8](base64: $0["sealed"]!.stringValue!)! }
        #expect(Set(sealed.map { Array($0.prefix(12)) }).count == 300)
        #expect(Set(sealed.map { Array($0.dropFirst(12)) }).count == 300)
    }
}
