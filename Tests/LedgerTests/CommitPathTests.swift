import Foundation
@testable import Ledger
import Testing

/// The shortcuts of the commit path — resolved senders and highest nonces remembered between
/// blocks, new patients written straight to bytes, admission running ahead of execution — give
/// the answers the long way gives.
@Suite struct CommitPathTests {
    static let demo = String(repeating: "a", count: 64)
    static func register(_ s: TransactionSigner, _ n: Int) -> Transaction {
        s.sign("patient.register", ["patient": .string("PAT-\(String(format: "%020x", n))"), "demographic_hash": .string(demo)])
    }

    @Test func aRevocationStopsTheUserForTheRestOfItsOwnBlock() throws {
        let c = try TestConsortium()
        let doc = try c.enroll("general-hospital", "dr-a", role: Role.physician)
        try c.expectCommitted(Self.register(doc, 1)) // resolved once: remembered
        let out = try c.submit([Self.register(doc, 2), c.signer("general-hospital").sign("identity.revoke", ["name": "dr-a"]), Self.register(doc, 3)])
        #expect(out[0].receipt != nil && out[1].receipt != nil)
        #expect(out[2].error == .unknownSender("general-hospital/dr-a"))
        #expect(try c.expectRefused(Self.register(doc, 4)) == .unknownSender("general-hospital/dr-a"))
    }

    /// Records are not kept in the state cache, present or absent: a record looked up while absent
    /// is found once a block writes it, and its versions advance.
    @Test func aRecordLookedUpWhileAbsentIsFoundOnceWritten() throws {
        let c = try TestConsortium()
        let pid = try c.registerPatient(1)
        let readers = ["general-hospital": c.orgs["general-hospital"]!.agreement.publicKeyBase64]
        func put(_ version: Int64, _ ks: String) throws {
            let args = try RecordBatch.arguments(chain: c.genesis.chain, keysetID: ks, readers: readers, writers: ["general-hospital"],
                                                 items: [RecordBatch.Item(key: "note-1", patient: pid, type: "note", version: version, plaintext: Array("v\(version)".utf8))])
            try c.expectCommitted(c.signer("general-hospital").sign("record.put", args))
        }
        #expect(try c.ledger.values([StateKey.record("note-1")]).isEmpty)
        #expect(try c.ledger.value(StateKey.record("note-1")) == nil)
        // Proposed and dropped: still absent afterwards.
        let args = try RecordBatch.arguments(chain: c.genesis.chain, keysetID: "ks-dropped", readers: readers, writers: ["general-hospital"],
                                             items: [RecordBatch.Item(key: "note-1", patient: pid, type: "note", plaintext: Array("x".utf8))])
        _ = try c.ledger.propose([c.signer("general-hospital").sign("record.put", args)], proposer: c.proposer, time: c.now + 1)
        #expect(try c.ledger.value(StateKey.record("note-1")) == nil)
        try put(1, "ks-one")
        #expect(try c.ledger.value(StateKey.record("note-1"))?["version"] == 1)
        try put(2, "ks-two")
        #expect(try c.ledger.value(StateKey.record("note-1"))?["version"] == 2)
        #expect(try c.ledger.values([StateKey.record("note-1")])[StateKey.record("note-1")]?["keyset"] == "ks-two")
    }

    @Test func aProposalThatIsNeverCommittedChangesNoAnswer() throws {
        let c = try TestConsortium()
        let doc = try c.enroll("general-hospital", "dr-a", role: Role.physician)
        // Built on the committed state and dropped (a leader that lost its term does this).
        let dropped = try c.ledger.propose([Self.register(doc, 1), c.signer("general-hospital").sign("identity.revoke", ["name": "dr-a"]), Self.register(doc, 2)],
                                           proposer: c.proposer, time: c.now + 1)
        #expect(dropped.outcomes[2].error == .unknownSender("general-hospital/dr-a"))
        // Still enrolled: the same nonces are fresh, the user still resolves.
        try c.expectCommitted(Self.register(doc, 5))
        // A re-keyed sender is checked against its new key, not a remembered one.
        let forger = TransactionSigner(chain: c.genesis.chain, identity: "general-hospital/dr-a", key: SigningKey(), firstNonce: 50)
        #expect(try c.expectRefused(Self.register(forger, 6)) == .keyMismatch("general-hospital/dr-a"))
    }

    @Test func nonceChecksAgreeWithTheIndexAboveAndBelowTheHighest() throws {
        let c = try TestConsortium()
        let key = c.orgs["general-hospital"]!.signing
        func signer(from n: Int64) -> TransactionSigner {
            TransactionSigner(chain: c.genesis.chain, identity: "general-hospital", key: key, firstNonce: n)
        }
        try c.expectCommitted(Self.register(signer(from: 10), 1))
        // Below the highest and unused: accepted (nonces need be unique, not consecutive).
        try c.expectCommitted(Self.register(signer(from: 3), 2))
        #expect(try c.expectRefused(Self.register(signer(from: 3), 3)) == .replayedNonce(sender: "general-hospital", nonce: 3))
        #expect(try c.expectRefused(Self.register(signer(from: 10), 4)) == .replayedNonce(sender: "general-hospital", nonce: 10))
        try c.expectCommitted(Self.register(signer(from: 11), 5))
        // A reopened ledger knows nothing in memory and answers the same.
        let reopened = try Ledger(path: c.ledger.path)
        let out = try reopened.submit([Self.register(signer(from: 11), 6), Self.register(signer(from: 12), 7)], proposer: c.proposer, time: c.now + 5000)
        #expect(out[0].error == .replayedNonce(sender: "general-hospital", nonce: 11))
        #expect(out[1].receipt != nil)
    }

    /// The remembered highest nonce follows a block of several senders in runs, each run's
    /// highest not its last, one sender in two runs.
    @Test func theHighestNonceIsKeptAcrossRunsOfSenders() throws {
        let c = try TestConsortium()
        func signer(_ org: String, _ n: Int64) -> TransactionSigner {
            TransactionSigner(chain: c.genesis.chain, identity: org, key: c.orgs[org]!.signing, firstNonce: n)
        }
        let (gh, cm) = ("general-hospital", "city-medical")
        // Each sender's highest nonce is remembered from a first block.
        #expect(try c.submit([Self.register(signer(gh, 1), 1), Self.register(signer(cm, 1), 2)]).allSatisfy { $0.receipt != nil })
        let block: [Transaction] = [Self.register(signer(gh, 20), 3), Self.register(signer(gh, 15), 4), Self.register(signer(cm, 40), 5),
                                    Self.register(signer(cm, 9), 6), Self.register(signer(gh, 30), 7), Self.register(signer(gh, 25), 8)]
        #expect(try c.submit(block).allSatisfy { $0.receipt != nil })
        let next = try c.submit([Self.register(signer(gh, 30), 9), Self.register(signer(gh, 26), 10), Self.register(signer(gh, 31), 11),
                                 Self.register(signer(cm, 40), 12), Self.register(signer(cm, 39), 13), Self.register(signer(cm, 41), 14)])
        #expect(next.map { $0.error } == [.replayedNonce(sender: gh, nonce: 30), nil, nil, .replayedNonce(sender: cm, nonce: 40), nil, nil])
        #expect(try c.ledger.nextNonce(for: gh) == 32 && c.ledger.nextNonce(for: cm) == 42)
    }

    @Test func aNewPatientIsStoredAsTheDictionaryEncodes() throws {
        let c = try TestConsortium()
        let pid = try c.registerPatient(1)
        let stored = try c.ledger.db.scalar("SELECT value FROM state WHERE key = ?", [.text(StateKey.patient(pid))])
        // The demographic hash `registerPatient` sends, computed here independently of the ledger.
        let demo = PatientIdentity(consortiumSecret: Array(repeating: 7, count: 32)).demographicHash(family: "f1", given: "g", birthDate: "1970-01-01")
        let expected: JSON = ["id": .string(pid), "demographic_hash": .string(demo), "consents": [:], "registered_at": .int(c.now),
                              "locations": ["general-hospital": ["since": .int(c.now)]]]
        #expect(stored?.textValue == expected.canonicalString)
        // A second custodian goes the long way (an existing entry) and adds its location.
        _ = try c.registerPatient(1, at: "city-medical")
        #expect(try c.ledger.value(StateKey.patient(pid))?["locations"]?.objectValue?.keys.sorted() == ["city-medical", "general-hospital"])
    }

    @Test func pipelinedBatchesGiveTheOutcomesOfOneAtATime() throws {
        let c = try TestConsortium()
        let s = c.signer("general-hospital")
        var batches: [[Transaction]] = (0..<6).map { b in (0..<40).map { Self.register(s, b * 100 + $0) } }
        let stranger = TransactionSigner(chain: c.genesis.chain, identity: "rogue-lab", key: SigningKey())
        batches[2][5] = Self.register(stranger, 1)                 // unknown sender
        batches[4][0] = batches[1][7]                              // replay of a committed transaction
        var wire = batches.map { $0.map(\.bytes) }
        wire[3][9] = Array(#"{"not":"a transaction"}"#.utf8)        // does not decode
        var tick = c.now
        let out = try c.ledger.submitPipelined(wire, proposer: c.proposer, time: { tick += 1; return tick })
        #expect(out.map(\.count) == wire.map(\.count))
        #expect(out[2][5].error == .unknownSender("rogue-lab"))
        #expect(out[4][0].error == .duplicate)
        #expect(out[3][9].error?.code == "malformed")
        #expect(out.joined().filter { $0.receipt != nil }.count == 6 * 40 - 3)
        #expect(c.ledger.height == 6)
        #expect(try c.ledger.block(at: 4).transactions.count == 39)
    }

    @Test func aStorageFailureMidStreamIsThrownAndStopsAdmission() throws {
        let c = try TestConsortium()
        let s = c.signer("general-hospital")
        let wire = (0..<8).map { b in (0..<40).map { Self.register(s, b * 100 + $0).bytes } }
        var calls = 0, tick = c.now
        #expect(throws: LedgerError.self) {
            _ = try c.ledger.submitPipelined(wire, proposer: c.proposer, time: {
                calls += 1
                // Before the third block, the file stops taking writes (as a full or failing disk would).
                if calls == 3 { try? c.ledger.db.execute("PRAGMA query_only=1") }
                tick += 1
                return tick
            })
        }
        #expect(c.ledger.height == 2, "the blocks before the failure stay committed")
        #expect(calls == 3, "nothing is attempted after the failure")
        try c.ledger.db.execute("PRAGMA query_only=0")
        // The ledger still works afterwards, and the refused batch can be submitted again.
        tick += 1
        let again = try c.ledger.submitPipelined(Array(wire[2...]), proposer: c.proposer, time: { tick += 1; return tick })
        #expect(again.joined().allSatisfy { $0.receipt != nil })
        #expect(c.ledger.height == 8)
    }
}
