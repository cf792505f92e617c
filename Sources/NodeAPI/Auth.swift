import Foundation
import HTTPTypes
import Hummingbird
import Ledger

/// Who signed an API request: an active organisation, or an active user it certified, by its key on
/// this node's ledger (`RequestSignature`).
struct Caller {
    let id: String
    let org: String
    let role: String
}

struct AuthFailure: Error {
    let status: HTTPResponse.Status
    let code: String
    let message: String
}

/// Checks signed requests. Timestamps must be within `RequestSignature.maxSkewMillis` of the node's
/// clock, and a signature is accepted once (a bounded memory of recent ones refuses replays).
final class RequestAuthenticator: @unchecked Sendable {
    let ledger: Ledger
    let clock: @Sendable () -> Int64
    private let lock = NSLock()
    private var seen: [String: Int64] = [:]
    static let maxRemembered = 20_000

    init(ledger: Ledger, clock: @escaping @Sendable () -> Int64 = Clock.wallMillis) {
        self.ledger = ledger
        self.clock = clock
    }

    func authenticate(_ request: Request, body: [UInt8]) throws(AuthFailure) -> Caller {
        func header(_ n: String) -> String? { HTTPField.Name(n).flatMap { request.headers[$0] } }
        guard let identity = header(RequestSignature.identityHeader), let ts = header(RequestSignature.timestampHeader),
              let sig = header(RequestSignature.signatureHeader) else {
            throw AuthFailure(status: .unauthorized, code: "unauthenticated",
                              message: "this endpoint needs a signed request (Tally-Identity, Tally-Timestamp, Tally-Signature)")
        }
        // Compared without arithmetic that could overflow on a hostile value.
        let now = clock()
        guard let t = Int64(ts), t >= now - RequestSignature.maxSkewMillis, t <= now + RequestSignature.maxSkewMillis else {
            throw AuthFailure(status: .unauthorized, code: "unauthenticated", message: "request timestamp missing or more than 5 minutes off this node's clock")
        }
        guard let signature = [UInt8](base64: sig) else { throw AuthFailure(status: .unauthorized, code: "unauthenticated", message: "signature is not base64") }
        let parts = identity.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 1 || parts.count == 2, parts.allSatisfy(Member.isValidID) else {
            throw AuthFailure(status: .unauthorized, code: "unauthenticated", message: "identity must be ORG or ORG/USER")
        }
        let keyText: String?
        let role: String
        func value(_ k: String) -> JSON? { (try? ledger.value(k)) ?? nil }
        if parts.count == 1 {
            let m = value(StateKey.member(parts[0]))
            keyText = m?["status"]?.stringValue == "active" ? m?["signing_key"]?.stringValue : nil
            role = Role.organisation
        } else {
            let u = value(StateKey.identity(identity))
            let orgActive = value(StateKey.member(parts[0]))?["status"]?.stringValue == "active"
            keyText = orgActive && u?["status"]?.stringValue == "active" ? u?["key"]?.stringValue : nil
            role = u?["role"]?.stringValue ?? ""
        }
        guard let keyText, let key = PublicSigningKey(base64: keyText) else {
            throw AuthFailure(status: .unauthorized, code: "unauthenticated", message: "\(identity) is not an active identity on this node's ledger")
        }
        let target = request.uri.description
        guard key.isValid(requestSignature: signature, for: RequestSignature.message(method: request.method.rawValue, target: target, timestamp: t, body: body)) else {
            throw AuthFailure(status: .unauthorized, code: "unauthenticated", message: "the signature does not verify for \(identity)")
        }
        let fresh: Bool = lock.withLock {
            if seen[sig] != nil { return false }
            if seen.count >= RequestAuthenticator.maxRemembered {
                seen = seen.filter { now - $0.value <= RequestSignature.maxSkewMillis }
                if seen.count >= RequestAuthenticator.maxRemembered { return false }
            }
            seen[sig] = t
            return true
        }
        guard fresh else { throw AuthFailure(status: .unauthorized, code: "unauthenticated", message: "this signed request was already used (replay)") }
        return Caller(id: identity, org: parts[0], role: role)
    }
}
