import Foundation
import Ledger
import Testing

@Suite struct TransactionRefusalTests {
    @Test func signedTransactionRoundTripsThroughWireBytes() throws {
        let key = SigningKey()
        let s = TransactionSigner(chain: "c", identity: "general-hospital", key: key, clock: { 42 })
        let tx = s.sign("patient.register", ["patient": "PAT-x"])
        let decoded = try Transaction(decoding: tx.bytes, maxBytes: 1 << 20)
        #expect(decoded.hash == tx.hash)
        #expect(decoded.body == tx.body)
        #expect(decoded.verifySignature())
    }

    @Test func forgedSignatureIsRefused() throws {
        let c = try TestConsortium()
        let real = c.signer("general-hospital").sign("patient.register", ["patient": "PAT-00000000000000000000", "demographic_hash": .string(String(repeating: "a", count: 64))])
        // Same body, signature by another key: re-sign the body with a forger's key but keep the claimed key.
        let forger = SigningKey()
        var body = real.body
        body.signerKey = forger.publicKey.base64
        let forged = Transaction(body: body, signingWith: forger)
        var json = try JSON.parse(forged.bytes)
        json = .object(["body": real.body.json, "sig": json["sig"]!])
        let tx = try Transaction(decoding: json.canonicalBytes, maxBytes: 1 << 20)
        #expect(try c.expectRefused(tx) == .badSignature)
    }

    @Test func keyNotRegisteredForSenderIsRefused() throws {
        let c = try TestConsortium()
        let impostor = TransactionSigner(chain: c.genesis.chain, identity: "general-hospital", key: SigningKey())
        let e = try c.expectRefused(impostor.sign("patient.register", ["patient": "PAT-00000000000000000000", "demographic_hash": .string(String(repeating: "a", count: 64))]))
        #expect(e == .keyMismatch("general-hospital"))
    }

    @Test func replayedNonceIsRefused() throws {
        let c = try TestConsortium()
        let s = c.signer("general-hospital")
        let tx = s.sign("identity.enroll", ["name": "dr-a", "role": "physician", "key": .string(SigningKey().publicKey.base64)])
        try c.expectCommitted(tx)
        // Exact replay.
        #expect(try c.expectRefused(tx) == .duplicate)
        // Same nonce, different content.
        let again = TransactionSigner(chain: c.genesis.chain, identity: "general-hospital", key: c.orgs["general-hospital"]!.signing, firstNonce: tx.body.nonce)
        let e = try c.expectRefused(again.sign("identity.enroll", ["name": "dr-b", "role": "physician", "key": .string(SigningKey().publicKey.base64)]))
        #expect(e == .replayedNonce(sender: "general-hospital", nonce: tx.body.nonce))
    }

    @Test func replayInsideOneBlockIsRefused() throws {
        let c = try TestConsortium()
        let tx = c.signer("general-hospital").sign("identity.enroll", ["name": "dr-a", "role": "physician", "key": .string(SigningKey().publicKey.base64)])
        let out = try c.submit([tx, tx])
        #expect(out[0].receipt != nil)
        #expect(out[1].error == .duplicate)
    }

    @Test func unknownSenderIsRefused() throws {
        let c = try TestConsortium()
        let stranger = TransactionSigner(chain: c.genesis.chain, identity: "rogue-lab", key: SigningKey())
        #expect(try c.expectRefused(stranger.sign("patient.register", [:])) == .unknownSender("rogue-lab"))
        let ghostUser = TransactionSigner(chain: c.genesis.chain, identity: "general-hospital/nobody", key: SigningKey())
        #expect(try c.expectRefused(ghostUser.sign("patient.register", [:])) == .unknownSender("general-hospital/nobody"))
    }

    @Test func wrongChainIsRefused() throws {
        let c = try TestConsortium()
        let other = TransactionSigner(chain: "other-chain", identity: "general-hospital", key: c.orgs["general-hospital"]!.signing)
        #expect(try c.expectRefused(other.sign("patient.register", [:])) == .wrongChain("other-chain"))
    }

    @Test(arguments: [
        Array("not json".utf8), Array("{}".utf8), Array(#"{"body":{},"sig":"AAAA"}"#.utf8), [0xFF, 0xFE, 0x00],
        Array(#"{"body": {"chain":"c"}, "sig": "x"}"#.utf8), [],
    ])
    func malformedBytesAreRefused(_ bytes: [UInt8]) throws {
        let c = try TestConsortium()
        let out = try c.ledger.submit(bytes: [bytes], proposer: c.proposer, time: c.now + 1)
        guard case .malformed? = out[0].error else { Issue.record("expected malformed, got \(String(describing: out[0].error))"); return }
        #expect(c.ledger.height == 0)
    }

    @Test func nonCanonicalEncodingIsRefused() throws {
        let c = try TestConsortium()
        let tx = c.signer("general-hospital").sign("identity.enroll", ["name": "dr-a", "role": "physician", "key": .string(SigningKey().publicKey.base64)])
        let spaced = Array(try JSON.parse(tx.bytes).pretty().utf8)
        let out = try c.ledger.submit(bytes: [spaced], proposer: c.proposer, time: c.now + 1)
        #expect(out[0].error == .malformed("not in canonical form"))
    }

    @Test func oversizedTransactionIsRefused() throws {
        var params = ConsortiumParams()
        params.maxTransactionBytes = 4096
        let c = try TestConsortium(params: params)
        let tx = c.signer("general-hospital").sign("identity.enroll", ["name": "dr-a", "role": "physician", "key": .string(String(repeating: "A", count: 5000))])
        let out = try c.ledger.submit(bytes: [tx.bytes], proposer: c.proposer, time: c.now + 1)
        #expect(out[0].error == .oversized(size: tx.bytes.count, limit: 4096))
        #expect(try c.expectRefused(tx) == .oversized(size: tx.bytes.count, limit: 4096))
    }

    @Test func unauthorisedRoleIsRefused() throws {
        let c = try TestConsortium()
        let pid = try c.registerPatient(1)
        // An insurer's organisation key may not grant consent on a patient's behalf.
        let e = try c.expectRefused(c.signer("healthinsure").sign("consent.grant", ["patient": .string(pid), "grantee": "healthinsure", "scope": "payment", "expires": .int(c.now + 1_000_000)]))
        guard case .unauthorised? = e else { Issue.record("expected unauthorised, got \(String(describing: e))"); return }
    }

    @Test func refusedTransactionsInABatchDoNotBlockTheOthers() throws {
        let c = try TestConsortium()
        let good = c.signer("general-hospital").sign("identity.enroll", ["name": "dr-a", "role": "physician", "key": .string(SigningKey().publicKey.base64)])
        let bad = c.signer("general-hospital").sign("identity.enroll", ["name": "Bad Name", "role": "physician", "key": .string(SigningKey().publicKey.base64)])
        let out = try c.submit([bad, good])
        #expect(out[0].error != nil)
        #expect(out[1].receipt?.index == 0)
        #expect(try c.ledger.value(StateKey.identity("general-hospital/dr-a")) != nil)
    }
}
