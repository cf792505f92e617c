import Foundation
@testable import Ledger
import Testing

/// The envelope fast path (fields read in canonical key order) against the general parser, and the
/// signature's base64 fast path against Foundation's decoder.
@Suite struct TransactionDecodingTests {
    static func signed(_ rng: inout SeededGenerator) -> Transaction {
        let signer = TransactionSigner(chain: "test-chain", identity: ["general-hospital", "general-hospital/dr-a", "x"].randomElement(using: &rng)!,
                                       key: SigningKey(), firstNonce: Int64.random(in: 0...1_000_000, using: &rng), clock: { 1_790_000_000_000 })
        let args: JSON = [
            ["patient": "PAT-0123456789abcdef0123", "demographic_hash": .string(String(repeating: "a", count: 64))],
            ["name": "dr-a", "role": "physician", "key": "k\"\\\u{1}é"],
            ["list": [1, -2, "x", [:], ["a": .null]], "n": .int(Int64.random(in: -5...5, using: &rng))],
            [:],
        ].randomElement(using: &rng)!
        let tx = signer.sign(["patient.register", "identity.enroll", "a.b"].randomElement(using: &rng)!, args)
        // Both signature forms, whatever the size (a signer picks by size; a verifier by the envelope).
        guard Bool.random(using: &rng) else { return tx }
        return Transaction(body: tx.body, signingWith: signer.key, check: false, form: tx.signatureForm == .body ? .digest : .body)
    }

    @Test func theFastPathAcceptsExactlyWhatTheGeneralParserAcceptsAndReadsTheSame() throws {
        var rng = SeededGenerator(seed: 20261123)
        let pieces: [[UInt8]] = [" ", "\"", ",", ":", "{", "}", "-0", "0", "1", "-", "\\u0041", "\\u000a", "é", "\"nonce\":1,", "\"op\":\"x\",",
                                 "\"args\":{},", "null", "\"x\"", "[", "]", "\"sig\":\"", "d", "\"dsig\":\"AA==\","].map { Array($0.utf8) }
        var accepted = 0, refused = 0
        for round in 0..<3000 {
            var b = Self.signed(&rng).bytes
            for _ in 0..<(round < 300 ? 0 : Int.random(in: 1...2, using: &rng)) {
                let at = Int.random(in: 0...b.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: b.insert(contentsOf: pieces.randomElement(using: &rng)!, at: at)
                case 1: if at < b.count { b.remove(at: at) }
                default: if at + 1 < b.count { b.swapAt(at, at + 1) }
                }
            }
            let fast = Transaction.envelope(b)
            let general = try? Transaction.generalEnvelope(b)
            if round < 300 { #expect(fast != nil, "round \(round): a signer's own envelope was not taken by the fast path") }
            if let fast {
                #expect(general == fast, "round \(round): the fast path took what the general parser refuses, or read different fields")
                accepted += 1
            } else if let general {
                // The one thing the fast path leaves to the general one in a canonical envelope: a
                // signature not in the form signers write (the shared checks then refuse most).
                let top = try JSON.parse(b, maxDepth: 32)
                let text = top["sig"]?.stringValue ?? top["dsig"]?.stringValue
                let signersForm = general.sig.map { $0.count == 64 && $0.base64 == text } ?? false
                #expect(text != nil && !signersForm, "round \(round): the fast path refused a canonical envelope")
                refused += 1
            } else {
                refused += 1
            }
            // Whichever path reads the envelope, decoding gives the general path's verdict.
            let decoded = Result { () throws(TransactionError) in try Transaction(decoding: b, maxBytes: 1 << 20) }
            switch (Result { () throws(TransactionError) in try Transaction.generalEnvelope(b) }, decoded) {
            case (.failure(let expected), .failure(let got)): #expect(got == expected, "round \(round): a different refusal")
            case (.success(let g), .success(let tx)): #expect(tx.body == g.body, "round \(round): a different body")
            case (.success, .failure(let got)): #expect(got.code == "malformed", "round \(round)") // the shared checks (signature, nonce, sender)
            case (.failure, .success): Issue.record("round \(round): decoded what the general parser refuses")
            }
        }
        #expect(accepted > 500 && refused > 1000)
    }

    /// A signed transaction's bytes are wrapped around its encoded body, not encoded again: they must
    /// be exactly the canonical encoding of the whole envelope.
    @Test func signedBytesAreTheCanonicalEnvelope() throws {
        var rng = SeededGenerator(seed: 20261202)
        for _ in 0..<200 {
            let tx = Self.signed(&rng)
            #expect(tx.bytes == JSON.object(["body": tx.body.json, tx.signatureForm == .body ? "sig" : "dsig": .string(tx.signature.base64)]).canonicalBytes)
            #expect(try Transaction(decoding: tx.bytes, maxBytes: 1 << 20).hash == tx.hash)
        }
    }

    /// `checkSignature` marks only a transaction whose signature verifies; a marked one is not
    /// verified again by the ledger, so the mark must never be set on a bad one.
    @Test func checkSignatureMarksOnlyWhatVerifies() throws {
        var rng = SeededGenerator(seed: 7)
        var good = Self.signed(&rng)
        let other = Self.signed(&rng)
        #expect(good.checkSignature() && good.signatureChecked)
        // The body of one transaction with the signature of another.
        var forged = try Transaction(decoding: Transaction.envelopeBytes(body: good.bodyBytes, signature: other.signature, form: good.signatureForm), maxBytes: 1 << 20)
        #expect(!forged.checkSignature() && !forged.signatureChecked)
        #expect(Ledger.verifySignatures([good, forged]) == [true, false])
    }

    /// Each form has its own domain: a signature moved under the other form's key verifies as
    /// neither, and a change anywhere in the body breaks a digest-form signature as it does a body-form one.
    @Test func theTwoSignatureFormsCannotPassForEachOther() throws {
        let key = SigningKey()
        let body = TransactionBody(chain: "test-chain", sender: "general-hospital", signerKey: key.publicKey.base64, nonce: 1, op: "a.b",
                                   args: ["note": "x"], clientTime: 1_790_000_000_000)
        for form in [Transaction.SignatureForm.body, .digest] {
            var tx = Transaction(body: body, signingWith: key, check: false, form: form)
            let verifies = tx.checkSignature()
            #expect(tx.signatureForm == form && verifies)
            let other: Transaction.SignatureForm = form == .body ? .digest : .body
            var moved = try Transaction(decoding: Transaction.envelopeBytes(body: tx.bodyBytes, signature: tx.signature, form: other), maxBytes: 1 << 20)
            let movedVerifies = moved.checkSignature()
            #expect(moved.signatureForm == other && !movedVerifies)
            var changed = body
            changed.args = ["note": "y"]
            let changedBytes = Array(changed.json.canonicalBytes)
            var tampered = try Transaction(decoding: Transaction.envelopeBytes(body: changedBytes[...], signature: tx.signature, form: form), maxBytes: 1 << 20)
            let tamperedVerifies = tampered.checkSignature()
            #expect(!tamperedVerifies)
        }
        // An envelope with both keys, or neither, is refused.
        let tx = Transaction(body: body, signingWith: key, check: false, form: .body)
        let both = JSON.object(["body": body.json, "sig": .string(tx.signature.base64), "dsig": .string(tx.signature.base64)]).canonicalBytes
        #expect(throws: TransactionError.self) { try Transaction(decoding: both, maxBytes: 1 << 20) }
        let neither = JSON.object(["body": body.json, "xsig": .string(tx.signature.base64)]).canonicalBytes
        #expect(throws: TransactionError.self) { try Transaction(decoding: neither, maxBytes: 1 << 20) }
    }

    /// Signers pick the form by the body's size: small bodies stay in the body form (`"sig"`),
    /// bulk ones (a batch of sealed records) are signed over their digest.
    @Test func signersPickTheFormByBodySize() {
        let signer = TransactionSigner(chain: "test-chain", identity: "general-hospital", key: SigningKey(), clock: { 1_790_000_000_000 })
        let small = signer.sign("a.b", ["note": .string(String(repeating: "a", count: Transaction.SignatureForm.digestThreshold - 200))])
        let large = signer.sign("a.b", ["note": .string(String(repeating: "a", count: Transaction.SignatureForm.digestThreshold))])
        #expect(small.signatureForm == .body && small.bodyBytes.count < Transaction.SignatureForm.digestThreshold)
        #expect(large.signatureForm == .digest && large.verifySignature())
        #expect(Array(large.bytes.suffix(99).prefix(9)) == Array(#","dsig":""#.utf8))
    }

    /// Signing with `check` verifies over the message it signed: the mark agrees with a separate
    /// verification of the decoded bytes, and the body is the slice of the envelope it came from.
    @Test func signingWithCheckMarksWhatVerifies() throws {
        let signer = TransactionSigner(chain: "test-chain", identity: "general-hospital", key: SigningKey(), clock: { 1_790_000_000_000 })
        let tx = signer.sign("record.put", ["records": .array((0..<50).map { ["sealed": .string(String(repeating: "A", count: $0 * 37))] })], check: true)
        #expect(tx.signatureChecked && tx.signatureForm == .digest)
        var decoded = try Transaction(decoding: tx.bytes, maxBytes: 1 << 20)
        #expect(!decoded.signatureChecked && decoded.checkSignature())
        #expect(Array(tx.bodyBytes) == tx.body.json.canonicalBytes && Array(decoded.bodyBytes) == tx.body.json.canonicalBytes)
        #expect(!signer.sign("a.b", [:]).signatureChecked) // without `check`, nothing is marked
    }

    @Test func signaturesDecodeAsFoundationDecodesThem() {
        var rng = SeededGenerator(seed: 7)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var fast = 0
        for round in 0..<3000 {
            var sig = (0..<64).map { _ in UInt8.random(in: 0...255, using: &rng) }.base64
            if round % 2 == 1 { // damage it: another character, a bad one, a moved '=', a wrong length
                var u = Array(sig.utf8)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: u[Int.random(in: 0..<u.count, using: &rng)] = alphabet.randomElement(using: &rng)!
                case 1: u[Int.random(in: 0..<u.count, using: &rng)] = [0x2D, 0x5F, 0x20, 0x3D, 0x2E].randomElement(using: &rng)!
                case 2: u.swapAt(85, 86)
                default: if Bool.random(using: &rng) { u.removeLast() } else { u.append(0x3D) }
                }
                sig = String(decoding: u, as: UTF8.self)
            }
            let mine = Transaction.signatureBytes(sig)
            if let mine {
                #expect(mine == [UInt8](base64: sig), "round \(round): decoded differently")
                fast += 1
            }
            if round % 2 == 0 { #expect(mine != nil, "round \(round): a signer's own form was not taken by the fast path") }
        }
        #expect(fast >= 1500)
    }
}
