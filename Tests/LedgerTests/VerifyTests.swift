import Foundation
import Ledger
import SQLiteStore
import Testing

@Suite struct LedgerVerificationTests {
    /// A consortium with a few blocks of mixed activity.
    func populated() throws -> TestConsortium {
        let c = try TestConsortium()
        let portal = try c.enroll("general-hospital", "portal", role: Role.patientPortal)
        var pids: [String] = []
        for i in 0..<4 { pids.append(try c.registerPatient(i)) }
        for p in pids {
            try c.expectCommitted(portal.sign("consent.grant", ["patient": .string(p), "grantee": "pharmacorp", "scope": "research", "expires": .int(c.now + 10_000_000)]))
        }
        let items = pids.enumerated().map { RecordBatch.Item(key: "r-\($0.offset)", patient: $0.element, type: "encounter", plaintext: Array("x".utf8)) }
        let args = try RecordBatch.arguments(chain: c.genesis.chain, keysetID: "ks-1", readers: ["general-hospital": c.orgs["general-hospital"]!.agreement.publicKeyBase64],
                                             writers: ["general-hospital"], items: items)
        try c.expectCommitted(c.signer("general-hospital").sign("record.put", args))
        return c
    }

    func tamper(_ c: TestConsortium, _ sql: String, _ args: [SQLValue] = []) throws {
        let db = try Database(path: c.ledger.path)
        try db.prepare(sql).run(args)
        #expect(db.changes == 1, "the tampering statement must change exactly one row")
    }

    @Test func intactLedgerVerifies() throws {
        let c = try populated()
        let r = try LedgerVerifier.verify(path: c.ledger.path, genesis: c.genesis)
        #expect(r.ok, "\(r.failure.map { "\($0)" } ?? "")")
        #expect(r.height == c.ledger.height)
        #expect(r.transactions == c.ledger.transactionCount)
        #expect(r.ledgerRoot == c.ledger.ledgerRoot)
    }

    @Test func tamperedBlockHeaderIsCaught() throws {
        let c = try populated()
        let h: Int64 = 3
        let header = try c.ledger.block(at: h).header
        var forged = header
        forged.time += 1
        try tamper(c, "UPDATE blocks SET header = ? WHERE height = ?", [.text(forged.json.canonicalString), .integer(h)])
        let r = try LedgerVerifier.verify(path: c.ledger.path, genesis: c.genesis)
        #expect(r.failure?.height == h)
        // Recomputing the stored hash too does not help: the next block's link and the signature break.
        try tamper(c, "UPDATE blocks SET hash = ? WHERE height = ?", [.blob(forged.hash.bytes), .integer(h)])
        let r2 = try LedgerVerifier.verify(path: c.ledger.path, genesis: c.genesis)
        #expect(r2.failure?.height == h)
        #expect(r2.failure?.reason.contains("signature") == true)
    }

    @Test func tamperedTransactionIsCaught() throws {
        let c = try populated()
        let h: Int64 = 6
        let tx = try c.ledger.block(at: h).transactions[0]
        var json = try JSON.parse(tx.bytes)
        json = json.setting("body", json["body"]!.setting("args", json["body"]!["args"]!.setting("scope", "all")))
        try tamper(c, "UPDATE transactions SET bytes = ? WHERE hash = ?", [.blob(json.canonicalBytes), .blob(tx.hash.bytes)])
        let r = try LedgerVerifier.verify(path: c.ledger.path, genesis: c.genesis)
        #expect(r.failure?.height == h)
    }

    @Test func removedTransactionIsCaught() throws {
        let c = try populated()
        let tx = try c.ledger.block(at: 5).transactions[0]
        try tamper(c, "DELETE FROM transactions WHERE hash = ?", [.blob(tx.hash.bytes)])
        #expect(try LedgerVerifier.verify(path: c.ledger.path, genesis: c.genesis).failure?.height == 5)
    }

    @Test func tamperedStateRowIsCaught() throws {
        let c = try populated()
        let key = StateKey.record("r-2")
        let v = try #require(try c.ledger.value(key))
        try tamper(c, "UPDATE state_history SET value = ? WHERE key = ? AND height = (SELECT max(height) FROM state_history WHERE key = ?)",
                   [.text(v.setting("readers", ["general-hospital", "healthinsure"]).canonicalString), .text(key), .text(key)])
        let r = try LedgerVerifier.verify(path: c.ledger.path, genesis: c.genesis)
        #expect(r.failure?.reason == "world state row \(key) (written at block \(c.ledger.height)) differs from replay")
        #expect(r.failure?.height == c.ledger.height)
    }

    @Test func tamperedPastStateIsCaught() throws {
        let c = try populated()
        // Rewriting an old version (what an as-of-height read would show an auditor) is caught too.
        try tamper(c, "UPDATE state_history SET version = version + 1 WHERE key = ? AND height = 1", [.text("identity/general-hospital/portal")])
        #expect(try LedgerVerifier.verify(path: c.ledger.path, genesis: c.genesis).failure?.height == 1)
        try tamper(c, "INSERT INTO state_history(key, key_hash, by_key, height, version, value) VALUES ('member/rogue-lab', 0, 1, 2, 1, '{}')")
        #expect(try LedgerVerifier.verify(path: c.ledger.path, genesis: c.genesis).failure != nil)
    }

    @Test func tamperedIndexKeysAreCaught() throws {
        // A wrong integer index key would hide a state key or a transaction from look-ups by it.
        let c = try populated()
        try tamper(c, "UPDATE state_history SET key_hash = key_hash + 1 WHERE key = ? AND height = 1", [.text("identity/general-hospital/portal")])
        var r = try LedgerVerifier.verify(path: c.ledger.path, genesis: c.genesis)
        #expect(r.failure?.reason == "world state row identity/general-hospital/portal (written at block 1) differs from replay")
        try tamper(c, "UPDATE state_history SET key_hash = key_hash - 1 WHERE key = ? AND height = 1", [.text("identity/general-hospital/portal")])
        #expect(try LedgerVerifier.verify(path: c.ledger.path, genesis: c.genesis).failure == nil)
        try tamper(c, "UPDATE transactions SET hash_key = hash_key + 1 WHERE seq = (SELECT max(seq) FROM transactions)")
        r = try LedgerVerifier.verify(path: c.ledger.path, genesis: c.genesis)
        #expect(r.failure?.reason == "a transaction's index key does not match its hash")
        #expect(r.failure?.height == c.ledger.height)
    }

    /// A transaction's key is its position (`height << 24 | idx`); a block is read as a range of
    /// keys, so a row keyed elsewhere would silently leave its block (or join another).
    @Test func transactionsKeyedOtherThanByTheirPositionAreCaught() throws {
        for sql in ["UPDATE transactions SET seq = seq + 1 WHERE seq = (SELECT max(seq) FROM transactions)", // out of its block's place
                    "UPDATE transactions SET idx = idx + 1 WHERE seq = (SELECT max(seq) FROM transactions)",  // the columns disagree with the key
                    "UPDATE transactions SET height = height + 1 WHERE seq = (SELECT max(seq) FROM transactions)"] {
            let c = try populated()
            try tamper(c, sql)
            let r = try LedgerVerifier.verify(path: c.ledger.path, genesis: c.genesis)
            #expect(r.failure?.reason == "1 stored transactions are keyed other than by their height and index", "\(sql)")
        }
        // Moved whole into the next block's range (key and columns agreeing), it breaks that block's root.
        let c = try populated()
        let last = c.ledger.height
        try tamper(c, "UPDATE transactions SET seq = ((height + 1) << 24) | (idx + 1000), height = height + 1, idx = idx + 1000 WHERE seq = (SELECT min(seq) FROM transactions WHERE height = ?)",
                   [.integer(last - 1)])
        let r = try LedgerVerifier.verify(path: c.ledger.path, genesis: c.genesis)
        #expect(r.failure?.height == last - 1)
    }

    @Test func foreignGenesisIsCaught() throws {
        let c = try populated()
        var other = c.genesis
        other.chain = "another"
        #expect(try LedgerVerifier.verify(path: c.ledger.path, genesis: other).failure?.height == 0)
    }

    @Test func inclusionProofsCheckOfflineAndTamperingIsCaught() throws {
        let c = try populated()
        for h in 1...c.ledger.height {
            for tx in try c.ledger.block(at: h).transactions {
                let proof = try c.ledger.inclusionProof(for: tx.hash)
                // Round-trip through JSON, as `tally ledger prove` prints it.
                let parsed = try InclusionProof(json: JSON.parse(proof.json.canonicalBytes))
                try parsed.verify(genesis: c.genesis)
            }
        }
        let tx = try c.ledger.block(at: 4).transactions[0]
        let proof = try c.ledger.inclusionProof(for: tx.hash)
        var p1 = proof
        p1.tx = Hash32.sha256([1])
        #expect(throws: LedgerError.self) { try p1.verify(genesis: c.genesis) }
        var p2 = proof
        p2.header.time += 1
        #expect(throws: LedgerError.self) { try p2.verify(genesis: c.genesis) }
        var p3 = proof
        p3.blockPath[0] = Hash32.sha256([2])
        #expect(throws: LedgerError.self) { try p3.verify(genesis: c.genesis) }
        var p4 = proof
        p4.checkpoint.ledgerRoot = Hash32.sha256([3])
        #expect(throws: LedgerError.self) { try p4.verify(genesis: c.genesis) }
        var p5 = proof
        p5.checkpoint.signer = "city-medical"
        #expect(throws: LedgerError.self) { try p5.verify(genesis: c.genesis) }
    }

    @Test func consistencyProofsLinkCheckpoints() throws {
        let c = try populated()
        let top = c.ledger.height
        for old in 1...top {
            let p = try c.ledger.consistencyProof(from: old, to: top)
            #expect(p.verify(), "\(old) → \(top)")
            #expect(p.old.isValid(signedBy: c.proposer.signing.publicKey))
        }
        var p = try c.ledger.consistencyProof(from: 2, to: top)
        p.old.ledgerRoot = Hash32.sha256([9])
        #expect(!p.verify())
    }

    @Test func reopenedLedgerContinuesTheChain() throws {
        let c = try populated()
        let root = c.ledger.ledgerRoot
        let reopened = try Ledger(path: c.ledger.path)
        #expect(reopened.ledgerRoot == root)
        #expect(reopened.head == c.ledger.head)
        let s = TransactionSigner(chain: c.genesis.chain, identity: "general-hospital", key: c.proposer.signing, firstNonce: try reopened.nextNonce(for: "general-hospital"))
        let out = try reopened.submit([s.sign("identity.enroll", ["name": "later", "role": "analyst", "key": .string(SigningKey().publicKey.base64)])], proposer: c.proposer, time: c.now + 10)
        #expect(out[0].receipt != nil)
        #expect(try LedgerVerifier.verify(path: c.ledger.path, genesis: c.genesis).ok)
    }
}
