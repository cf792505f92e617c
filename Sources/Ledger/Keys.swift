import Crypto
import Foundation

/// Domain-separation prefixes: a signature made for one purpose never verifies for another.
enum SigningDomain {
    static let transaction = Array("tally/tx/v1\u{0}".utf8)
    /// A transaction signed over the SHA-256 of its body (`Transaction.SignatureForm.digest`).
    static let transactionDigest = Array("tally/tx-digest/v1\u{0}".utf8)
    static let block = Array("tally/block/v1\u{0}".utf8)
    static let checkpoint = Array("tally/checkpoint/v1\u{0}".utf8)
    static let aggregate = Array("tally/aggregate/v1\u{0}".utf8)
    static let request = Array("tally/request/v1\u{0}".utf8)
}

/// An Ed25519 signing key (an organisation's or a user's).
public struct SigningKey: Sendable {
    public let key: Curve25519.Signing.PrivateKey

    public init() { key = Curve25519.Signing.PrivateKey() }
    public init(rawRepresentation: [UInt8]) throws {
        key = try Curve25519.Signing.PrivateKey(rawRepresentation: rawRepresentation)
    }

    public var publicKey: PublicSigningKey { PublicSigningKey(key.publicKey) }
    public var rawRepresentation: [UInt8] { Array(key.rawRepresentation) }

    /// Signs a member's released aggregate (domain-separated from transactions and blocks).
    public func signAggregate(_ message: [UInt8]) -> [UInt8] { sign(domain: SigningDomain.aggregate, message) }
    /// Signs an API request (`RequestSignature.message`), domain-separated from everything else.
    public func signRequest(_ message: [UInt8]) -> [UInt8] { sign(domain: SigningDomain.request, message) }

    func sign(domain: [UInt8], _ message: [UInt8]) -> [UInt8] {
        sign(message: domain + message)
    }

    /// Signs a message that already starts with its domain.
    func sign(message: [UInt8]) -> [UInt8] {
        // Swift-crypto's Ed25519 signing cannot fail for a valid key.
        Array(try! key.signature(for: message))
    }
}

/// An Ed25519 public key, written as base64 of its 32 raw bytes.
public struct PublicSigningKey: Hashable, Sendable {
    public let raw: [UInt8]
    let key: Curve25519.Signing.PublicKey

    public init(_ key: Curve25519.Signing.PublicKey) {
        self.key = key
        self.raw = Array(key.rawRepresentation)
    }

    public init?(base64: String) {
        guard let raw = [UInt8](base64: base64), raw.count == 32,
              let k = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else { return nil }
        self.init(k)
    }

    public var base64: String { raw.base64 }

    public func isValid(requestSignature signature: [UInt8], for message: [UInt8]) -> Bool {
        isValid(signature: signature, domain: SigningDomain.request, for: message)
    }

    public func isValid(aggregateSignature signature: [UInt8], for message: [UInt8]) -> Bool {
        isValid(signature: signature, domain: SigningDomain.aggregate, for: message)
    }

    func isValid(signature: [UInt8], domain: [UInt8], for message: [UInt8]) -> Bool {
        isValid(signature: signature, domain: domain, for: message[...])
    }

    func isValid(signature: [UInt8], domain: [UInt8], for message: ArraySlice<UInt8>) -> Bool {
        var m = [UInt8]()
        m.reserveCapacity(domain.count + message.count)
        m.append(contentsOf: domain)
        m.append(contentsOf: message)
        return isValid(signature: signature, message: m)
    }

    /// Checks a signature over a message that already starts with its domain.
    func isValid(signature: [UInt8], message: [UInt8]) -> Bool {
        signature.count == 64 && key.isValidSignature(signature, for: message)
    }

    public static func == (a: Self, b: Self) -> Bool { a.raw == b.raw }
    public func hash(into h: inout Hasher) { h.combine(raw) }
}

/// An organisation's X25519 key for receiving wrapped data keys (HPKE).
public struct AgreementKey: Sendable {
    public let key: Curve25519.KeyAgreement.PrivateKey
    public init() { key = Curve25519.KeyAgreement.PrivateKey() }
    public init(rawRepresentation: [UInt8]) throws {
        key = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: rawRepresentation)
    }
    public var rawRepresentation: [UInt8] { Array(key.rawRepresentation) }
    public var publicKeyBase64: String { Array(key.publicKey.rawRepresentation).base64 }
}

/// Everything an organisation's node holds secret: its signing and agreement keys.
public struct OrganisationKeys: Sendable {
    public let org: String
    public let signing: SigningKey
    public let agreement: AgreementKey

    public init(org: String, signing: SigningKey = SigningKey(), agreement: AgreementKey = AgreementKey()) {
        self.org = org
        self.signing = signing
        self.agreement = agreement
    }
}

/// Reads and writes key files. Secret keys are written with mode 0600 and refused if readable by others.
public enum KeyFile {
    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
    }

    public static func write(_ secret: [UInt8], to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let contents = secret.base64 + "\n"
        // Create with 0600 from the start so the secret is never briefly world-readable.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw Error(description: "cannot create key file \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let bytes = Array(contents.utf8)
        guard Foundation.write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw Error(description: "cannot write key file \(path)")
        }
    }

    public static func read(_ path: String) throws -> [UInt8] {
        var st = stat()
        guard stat(path, &st) == 0 else { throw Error(description: "key file \(path) not found") }
        if st.st_mode & 0o077 != 0 {
            throw Error(description: "key file \(path) is accessible by group or others (mode \(String(st.st_mode & 0o777, radix: 8))); run chmod 600")
        }
        let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let raw = [UInt8](base64: text) else { throw Error(description: "key file \(path) is not valid base64") }
        return raw
    }
}

/// Signed API requests: a caller proves it holds an identity's key (an organisation's or one of its
/// users') by signing the method, the target (path and query), a timestamp and the body's SHA-256.
/// Sent as three headers; nodes check them against the identity's key on their ledger.
public enum RequestSignature {
    public static let identityHeader = "Tally-Identity"
    public static let timestampHeader = "Tally-Timestamp"
    public static let signatureHeader = "Tally-Signature"
    /// How far a request's timestamp may be from the node's clock.
    public static let maxSkewMillis: Int64 = 300_000

    public static func message(method: String, target: String, timestamp: Int64, body: [UInt8]) -> [UInt8] {
        Array("\(method.uppercased())\n\(target)\n\(timestamp)\n\(Hash32.sha256(body).hex)".utf8)
    }

    /// The headers that authenticate a request as `identity` (ORG or ORG/USER) signed with `key`.
    public static func headers(identity: String, key: SigningKey, method: String, target: String, body: [UInt8],
                               now: Int64 = Clock.wallMillis()) -> [(String, String)] {
        let sig = key.signRequest(message(method: method, target: target, timestamp: now, body: body))
        return [(identityHeader, identity), (timestampHeader, String(now)), (signatureHeader, sig.base64)]
    }
}

/// Fresh bytes from the kernel's generator, for salts, nonces and handshake challenges.
public enum SecureRandom {
    /// `n` bytes in as few calls as the kernel allows. Swift's and swift-crypto's generators make one
    /// `getrandom` system call per 8 bytes: four per record for salt and nonce were a fifth of
    /// sealing's cost in bulk ingest.
    public static func bytes(_ n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        #if os(Linux)
        out.withUnsafeMutableBytes { buf in
            var at = 0
            while at < n {
                let chunk = min(256, n - at) // getentropy's limit per call
                guard getentropy(buf.baseAddress! + at, chunk) == 0 else {
                    fatalError("the kernel's random generator failed (errno \(errno))")
                }
                at += chunk
            }
        }
        #else
        var g = SystemRandomNumberGenerator()
        for i in 0..<n { out[i] = UInt8.random(in: 0...255, using: &g) }
        #endif
        return out
    }
}
