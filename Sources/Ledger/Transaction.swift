import Crypto
import Dispatch
import Foundation

/// Why a transaction was refused. Each reason has a stable code; messages never carry health data.
public enum TransactionError: Error, Equatable, CustomStringConvertible, Sendable {
    case malformed(String)
    case oversized(size: Int, limit: Int)
    case wrongChain(String)
    case badSignature
    case unknownSender(String)
    case keyMismatch(String)
    case replayedNonce(sender: String, nonce: Int64)
    case duplicate
    case unauthorised(String)
    case rejected(String)

    /// The same error with `prefix` before its message (where it has one), e.g. naming a list entry.
    func prefixed(_ prefix: String) -> TransactionError {
        switch self {
        case .malformed(let m): return .malformed(prefix + m)
        case .unauthorised(let m): return .unauthorised(prefix + m)
        case .rejected(let m): return .rejected(prefix + m)
        default: return self
        }
    }

    public var code: String {
        switch self {
        case .malformed: return "malformed"
        case .oversized: return "oversized"
        case .wrongChain: return "wrong_chain"
        case .badSignature: return "bad_signature"
        case .unknownSender: return "unknown_sender"
        case .keyMismatch: return "key_mismatch"
        case .replayedNonce: return "replayed_nonce"
        case .duplicate: return "duplicate"
        case .unauthorised: return "unauthorised"
        case .rejected: return "rejected"
        }
    }

    public var description: String {
        switch self {
        case .malformed(let m): return "malformed transaction: \(m)"
        case .oversized(let s, let l): return "oversized transaction: \(s) bytes, limit \(l)"
        case .wrongChain(let c): return "transaction is for another chain (\(c))"
        case .badSignature: return "signature does not verify"
        case .unknownSender(let s): return "unknown sender \(s)"
        case .keyMismatch(let s): return "signing key is not the registered key of \(s)"
        case .replayedNonce(let s, let n): return "nonce \(n) of \(s) was already used (replay)"
        case .duplicate: return "transaction already on the ledger"
        case .unauthorised(let m): return "unauthorised: \(m)"
        case .rejected(let m): return "rejected by contract: \(m)"
        }
    }
}

/// The signed part of a transaction.
public struct TransactionBody: Equatable, Sendable {
    public var chain: String
    /// The acting identity: an organisation id (`general-hospital`) or a user (`general-hospital/dr-smith`).
    public var sender: String
    /// The public key the signature was made with; must equal the sender's registered key.
    public var signerKey: String
    public var nonce: Int64
    /// The contract operation, e.g. `consent.grant`.
    public var op: String
    public var args: JSON
    /// The client's clock (ms since epoch); informational only — contracts use the block time.
    public var clientTime: Int64

    public init(chain: String, sender: String, signerKey: String, nonce: Int64, op: String, args: JSON, clientTime: Int64) {
        self.chain = chain
        self.sender = sender
        self.signerKey = signerKey
        self.nonce = nonce
        self.op = op
        self.args = args
        self.clientTime = clientTime
    }

    public var json: JSON {
        .object([
            "chain": .string(chain), "sender": .string(sender), "key": .string(signerKey),
            "nonce": .int(nonce), "op": .string(op), "args": args, "time": .int(clientTime),
        ])
    }
}

/// A signed transaction. Its wire form is the canonical JSON `{"body":…,"sig":…}` (or `"dsig"`, see
/// `SignatureForm`); its hash is SHA-256 of those bytes. Non-canonical encodings are refused, so a
/// transaction has one hash.
public struct Transaction: Sendable {
    /// What the Ed25519 signature covers. Named by the envelope's second key, so a verifier never
    /// has to guess, and each form has its own signing domain, so a signature never passes as the other.
    public enum SignatureForm: Sendable, Equatable {
        /// `"sig"`: over `tally/tx/v1\0 ‖ canonical(body)`.
        case body
        /// `"dsig"`: over `tally/tx-digest/v1\0 ‖ SHA-256(canonical(body))`. Ed25519 hashes its message
        /// twice to sign and once to verify, with SHA-512, which has no hardware support here; a bulk
        /// body of 600 KB was signed and checked in three SHA-512 passes, where this form needs one
        /// pass of SHA-256 (hardware-accelerated) and then hashes 50 bytes.
        case digest

        /// The envelope key that carries the signature.
        var key: String { self == .body ? "sig" : "dsig" }

        /// Bodies from this size up are signed in the digest form; smaller ones over the body itself.
        public static let digestThreshold = 16 << 10

        /// The form a signer uses for a body of `size` bytes.
        public static func forBody(size: Int) -> SignatureForm { size >= digestThreshold ? .digest : .body }
    }

    /// The immutable parts, shared: a transaction is copied through queues, blocks and results, and a
    /// copy should cost one reference count, not one per field.
    final class Storage: Sendable {
        let body: TransactionBody
        let signature: [UInt8]
        let bytes: [UInt8]
        let hash: Hash32
        let bodyBytes: ArraySlice<UInt8>
        let form: SignatureForm
        init(body: TransactionBody, signature: [UInt8], bytes: [UInt8], hash: Hash32, bodyBytes: ArraySlice<UInt8>, form: SignatureForm) {
            self.body = body
            self.signature = signature
            self.bytes = bytes
            self.hash = hash
            self.bodyBytes = bodyBytes
            self.form = form
        }
    }
    private let storage: Storage

    public var body: TransactionBody { storage.body }
    public var signature: [UInt8] { storage.signature }
    public var bytes: [UInt8] { storage.bytes }
    public var hash: Hash32 { storage.hash }
    /// The canonical bytes of the body: what the signature covers. A slice of `bytes` (a bulk
    /// transaction's body is a megabyte; a second copy was kept with every recent block).
    var bodyBytes: ArraySlice<UInt8> { storage.bodyBytes }
    /// What the signature covers.
    public var signatureForm: SignatureForm { storage.form }
    /// True once `admit` has verified the signature; only this module can set it.
    public internal(set) var signatureChecked = false

    /// Signs `body` with `key` (the one signing path for transactions).
    public init(body: TransactionBody, signingWith key: SigningKey) {
        self.init(body: body, signingWith: key, check: false)
    }

    /// Signs `body` with `key` and, when `check` is set, verifies the signature over the same bytes
    /// and marks the transaction checked (see `checkSignature`): bulk ingest does this on the thread
    /// that signs, without building the signed message a second time. The form follows the body's
    /// size (`SignatureForm.forBody`) unless `form` is given.
    public init(body: TransactionBody, signingWith key: SigningKey, check: Bool, form: SignatureForm? = nil) {
        precondition(body.signerKey == key.publicKey.base64, "body names a different signing key")
        // The body's canonical bytes are encoded once, after the body form's domain, so that form
        // signs the buffer as it stands.
        var message = SigningDomain.transaction
        body.json.encode(into: &message)
        let bodyBytes = message[SigningDomain.transaction.count...]
        let form = form ?? .forBody(size: bodyBytes.count)
        if form == .digest { message = Transaction.digestMessage(bodyBytes) }
        let sig = key.sign(message: message)
        let bytes = Transaction.envelopeBytes(body: bodyBytes, signature: sig, form: form)
        storage = Storage(body: body, signature: sig, bytes: bytes, hash: Hash32.sha256(bytes), bodyBytes: Transaction.bodySlice(bytes, form: form), form: form)
        if check { signatureChecked = key.publicKey.isValid(signature: sig, message: message) }
    }

    /// What a digest-form signature covers: its domain and the body's SHA-256.
    static func digestMessage(_ body: ArraySlice<UInt8>) -> [UInt8] {
        var m = SigningDomain.transactionDigest
        m.reserveCapacity(m.count + 32)
        SHA256.hash(data: body).withUnsafeBytes { m.append(contentsOf: $0) }
        return m
    }

    /// The body inside a canonical envelope `{"body":<body>,"KEY":"<88 base64 characters>"}`: after
    /// `{"body":` and before `,"KEY":"…"}` (`envelopeBytes` writes exactly that).
    static func bodySlice(_ envelope: [UInt8], form: SignatureForm) -> ArraySlice<UInt8> {
        envelope[8..<(envelope.count - (form.key.utf8.count + 5 + 88 + 2))]
    }

    /// The canonical envelope `{"body":…,"sig":"…"}` around an already encoded body: what
    /// `JSON.object(["body": body, "sig": .string(base64)]).canonicalBytes` gives ("body" sorts
    /// before "sig" and "dsig", and base64 needs no escaping), without encoding a 1,000-record body twice.
    static func envelopeBytes(body: ArraySlice<UInt8>, signature: [UInt8], form: SignatureForm) -> [UInt8] {
        let sig = signature.base64
        var out: [UInt8] = []
        out.reserveCapacity(body.count + sig.utf8.count + 17)
        out.append(contentsOf: #"{"body":"#.utf8)
        out.append(contentsOf: body)
        out.append(contentsOf: #",""#.utf8)
        out.append(contentsOf: form.key.utf8)
        out.append(contentsOf: #"":""#.utf8)
        out.append(contentsOf: sig.utf8)
        out.append(contentsOf: #""}"#.utf8)
        return out
    }

    /// Decodes wire bytes. Checks form and size, not the signature (see `verifySignature`).
    public init(decoding bytes: [UInt8], maxBytes: Int) throws(TransactionError) {
        guard bytes.count <= maxBytes else { throw .oversized(size: bytes.count, limit: maxBytes) }
        if let fields = Transaction.envelope(bytes) {
            try self.init(bytes: bytes, fields: fields)
        } else {
            try self.init(bytes: bytes, fields: try Transaction.generalEnvelope(bytes))
        }
    }

    /// The envelope's fields through the general parser: one strict pass that checks canonical form
    /// while parsing (no re-encoding to compare), and says what is wrong.
    static func generalEnvelope(_ bytes: [UInt8]) throws(TransactionError) -> EnvelopeFields {
        let json: JSON
        do { json = try JSON.parseCanonical(bytes, maxDepth: 32) } catch {
            do { _ = try JSON.parse(bytes, maxDepth: 32) } catch { throw .malformed("\(error)") }
            throw .malformed("not in canonical form")
        }
        guard case .object(let top) = json, top.count == 2, let b = top["body"], case .object(let o) = b,
              let (form, sigValue) = top["sig"].map({ (SignatureForm.body, $0) }) ?? top["dsig"].map({ (SignatureForm.digest, $0) }),
              let sigText = sigValue.stringValue else { throw .malformed("expected {body, sig} or {body, dsig}") }
        guard o.count == 7,
              let chain = o["chain"]?.stringValue, let sender = o["sender"]?.stringValue,
              let key = o["key"]?.stringValue, let nonce = o["nonce"]?.intValue,
              let op = o["op"]?.stringValue, let args = o["args"], case .object = args,
              let time = o["time"]?.intValue
        else { throw .malformed("body fields missing or of the wrong type") }
        return EnvelopeFields(body: TransactionBody(chain: chain, sender: sender, signerKey: key, nonce: nonce, op: op, args: args, clientTime: time),
                              sig: Transaction.signatureBytes(sigText) ?? [UInt8](base64: sigText), form: form)
    }

    /// An envelope's fields: the body, the signature's bytes (nil if its text is not base64) and its form.
    struct EnvelopeFields: Equatable {
        var body: TransactionBody
        var sig: [UInt8]?
        var form: SignatureForm
    }

    /// The checks both decoding paths share, and the transaction.
    private init(bytes: [UInt8], fields: EnvelopeFields) throws(TransactionError) {
        guard let sig = fields.sig, sig.count == 64 else {
            throw .malformed("signature is not 64 bytes of base64")
        }
        let body = fields.body
        guard body.nonce >= 0 else { throw .malformed("negative nonce") }
        guard !body.sender.isEmpty, body.sender.utf8.count <= 128, !body.op.isEmpty else { throw .malformed("empty sender or op") }
        // Canonical form is `{"body":<body>,"sig":"<88 base64 chars>"}` (or "dsig"): the body is a slice.
        storage = Storage(body: body, signature: sig, bytes: bytes, hash: Hash32.sha256(bytes), bodyBytes: Transaction.bodySlice(bytes, form: fields.form),
                          form: fields.form)
    }

    /// The fields of a canonical envelope, read in key order without building the envelope's
    /// dictionaries: `{"body":{"args":{…},"chain":…,"key":…,"nonce":…,"op":…,"sender":…,"time":…},"sig":…}`,
    /// with the signature in the form signers write it (`signatureBytes`), decoded straight from the
    /// input. Canonical form fixes that order, so this accepts exactly the canonical envelopes the
    /// general path accepts whose signature is in that form; anything else (including every refusal)
    /// returns nil and goes the general way, which names the fault. `TransactionDecodingTests` checks
    /// the two agree.
    static func envelope(_ bytes: [UInt8]) -> EnvelopeFields? {
        var p = JSON.Parser(bytes: bytes, maxDepth: 32, canonical: true)
        func text() -> String? {
            guard p.i < bytes.count, bytes[p.i] == 0x22 else { return nil }
            return try? p.string()
        }
        func integer() -> Int64? {
            guard p.i < bytes.count, bytes[p.i] == 0x2D || (0x30...0x39).contains(bytes[p.i]) else { return nil }
            return (try? p.number())?.intValue
        }
        guard p.skip(#"{"body":{"args":"#), bytes.count > p.i, bytes[p.i] == 0x7B,
              let args = try? p.value(depth: 2),
              p.skip(#","chain":"#), let chain = text(),
              p.skip(#","key":"#), let key = text(),
              p.skip(#","nonce":"#), let nonce = integer(),
              p.skip(#","op":"#), let op = text(),
              p.skip(#","sender":"#), let sender = text(),
              p.skip(#","time":"#), let time = integer(),
              p.skip(#"},""#)
        else { return nil }
        let form: SignatureForm
        if p.skip(#"sig":"#) { form = .body } else if p.skip(#"dsig":"#) { form = .digest } else { return nil }
        // `"` + 88 characters + `"}`, the end of the input.
        guard p.i + 91 == bytes.count, bytes[p.i] == 0x22, bytes[p.i + 89] == 0x22, bytes[p.i + 90] == 0x7D,
              let sig = bytes.withUnsafeBufferPointer({ Transaction.signatureBytes(UnsafeBufferPointer(rebasing: $0[(p.i + 1)..<(p.i + 89)])) })
        else { return nil }
        return EnvelopeFields(body: TransactionBody(chain: chain, sender: sender, signerKey: key, nonce: nonce, op: op, args: args, clientTime: time),
                              sig: sig, form: form)
    }

    /// A 64-byte signature in the form the signer writes it (88 characters of standard base64, two
    /// `=`, unused bits zero); nil for anything else, which Foundation's decoder then judges.
    static func signatureBytes(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { signatureBytes($0) }
    }

    /// Each base64 character's six bits; 0xFF for a byte that is not one.
    private static let sextets: [UInt8] = (0...255).map { (c: Int) -> UInt8 in
        switch c {
        case 0x41...0x5A: return UInt8(c - 0x41)
        case 0x61...0x7A: return UInt8(c - 0x61 + 26)
        case 0x30...0x39: return UInt8(c - 0x30 + 52)
        case 0x2B: return 62
        case 0x2F: return 63
        default: return 0xFF
        }
    }

    static func signatureBytes(_ c: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard c.count == 88, c[86] == 0x3D, c[87] == 0x3D else { return nil }
        return sextets.withUnsafeBufferPointer { table -> [UInt8]? in
            var bad: UInt8 = 0 // any 0xFF sets the top bits: one check at the end, not one per character
            let out = [UInt8](unsafeUninitializedCapacity: 64) { out, count in
                for g in 0..<21 { // 21 groups of four characters → 63 bytes
                    let a = table[Int(c[4 * g])], b = table[Int(c[4 * g + 1])], d = table[Int(c[4 * g + 2])], e = table[Int(c[4 * g + 3])]
                    bad |= a | b | d | e
                    let v = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(d) << 6 | UInt32(e)
                    out[3 * g] = UInt8(truncatingIfNeeded: v >> 16)
                    out[3 * g + 1] = UInt8(truncatingIfNeeded: v >> 8)
                    out[3 * g + 2] = UInt8(truncatingIfNeeded: v)
                }
                let a = table[Int(c[84])], b = table[Int(c[85])]
                bad |= a | b | (b & 0x0F == 0 ? 0 : 0xFF)
                out[63] = UInt8(truncatingIfNeeded: UInt32(a) << 2 | UInt32(b) >> 4)
                count = 64
            }
            return bad & 0xC0 == 0 ? out : nil
        }
    }

    /// Checks the signature against the key the body names. Pure: safe to run in parallel.
    public func verifySignature() -> Bool {
        guard let pk = PublicSigningKey(base64: body.signerKey) else { return false }
        switch signatureForm {
        case .body: return pk.isValid(signature: signature, domain: SigningDomain.transaction, for: bodyBytes)
        case .digest: return pk.isValid(signature: signature, message: Transaction.digestMessage(bodyBytes))
        }
    }

    /// Verifies the signature now and marks the transaction checked, so the ledger does not verify
    /// it again while it builds the block (admission does this on all cores; bulk ingest signs with
    /// `check` instead, on the thread that signs).
    public mutating func checkSignature() -> Bool {
        if !signatureChecked { signatureChecked = verifySignature() }
        return signatureChecked
    }
}

extension Transaction {
    /// How finely signature checks are handed out (`parallelMap`): pieces of about 16 transactions (a
    /// millisecond of checks) for a block of 2,000. With the default, 62, the tail of each batch left a
    /// core idle for up to 4 ms (cores busy 1.92–1.93 of 2 against 1.93–1.96, `Docs/PERFORMANCE.md`).
    static let checkPiecesPerCore = 64

    /// Admission: decodes wire bytes and verifies signatures across all cores. Pure — it reads no
    /// ledger state — so a node runs it on incoming transactions while the previous block commits.
    public static func admit(_ wire: [[UInt8]], maxBytes: Int) -> [Result<Transaction, TransactionError>] {
        parallelMap(wire.count, piecesPerCore: checkPiecesPerCore) { i in
            do throws(TransactionError) {
                var tx = try Transaction(decoding: wire[i], maxBytes: maxBytes)
                guard tx.checkSignature() else { return .failure(.badSignature) }
                return .success(tx)
            } catch {
                return .failure(error)
            }
        }
    }
}

/// `(0..<count).map(body)` on all cores, order kept (serially below 32 items). `body` must be pure.
/// The range is cut into many more pieces than there are cores, handed out as threads come free:
/// a thread that loses its core for a while (another stage of the pipeline, another process) leaves
/// at most one small piece for the end instead of a whole share.
/// Results are written straight into the array's storage, each slot once by one thread (no array of
/// optionals copied element by element afterwards: that copy retained and released every result,
/// 89,000 parsed FHIR lines at the start of a bulk load, on the one thread everything waits for).
/// `piecesPerCore` trades the hand-out cost of a piece against the tail: the last piece of a call
/// runs on one core while the others wait, so work of about 70 µs an item (signature checks) asks
/// for more, smaller pieces than the default.
public func parallelMap<T>(_ count: Int, piecesPerCore: Int = 16, _ body: (Int) -> T) -> [T] {
    if count < 32 { return (0..<count).map(body) }
    let pieces = min(count, ProcessInfo.processInfo.activeProcessorCount * max(1, piecesPerCore))
    return [T](unsafeUninitializedCapacity: count) { buf, initialized in
        let o = buf
        DispatchQueue.concurrentPerform(iterations: pieces) { piece in
            for i in (piece * count / pieces)..<((piece + 1) * count / pieces) { (o.baseAddress! + i).initialize(to: body(i)) }
        }
        // concurrentPerform returns once every piece has run: every slot is initialised.
        initialized = count
    }
}

/// A signer bound to an identity, handing out nonces.
public final class TransactionSigner: @unchecked Sendable {
    public let chain: String
    public let identity: String
    public let key: SigningKey
    private let lock = NSLock()
    private var nextNonce: Int64
    private let clock: () -> Int64

    public init(chain: String, identity: String, key: SigningKey, firstNonce: Int64 = 0, clock: @escaping () -> Int64 = Clock.wallMillis) {
        self.chain = chain
        self.identity = identity
        self.key = key
        self.nextNonce = firstNonce
        self.clock = clock
    }

    /// Signs the next transaction; with `check`, also verifies it (see `Transaction.init(body:signingWith:check:)`).
    public func sign(_ op: String, _ args: JSON, check: Bool = false) -> Transaction {
        let nonce: Int64 = lock.withLock { defer { nextNonce += 1 }; return nextNonce }
        let body = TransactionBody(chain: chain, sender: identity, signerKey: key.publicKey.base64, nonce: nonce, op: op, args: args, clientTime: clock())
        return Transaction(body: body, signingWith: key, check: check)
    }
}

public enum Clock {
    public static func wallMillis() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}
