import Crypto
import Foundation

/// Consortium pseudonyms. The government or enterprise identifier never reaches the ledger: the
/// pseudonym is a keyed hash (HMAC-SHA256 under the consortium secret, which members hold and the
/// ledger does not), so nobody without the secret can test a guessed identifier against it.
public struct PatientIdentity: @unchecked Sendable {
    /// HMAC-SHA256 already keyed with the consortium secret; each hash starts from a copy (keying
    /// costs two compression rounds, most of a short message's MAC, and bulk ingest makes millions).
    /// A value: copies never share state, so using it from many threads is safe.
    private let keyed: HMAC<SHA256>

    public init(consortiumSecret: [UInt8]) {
        precondition(consortiumSecret.count >= 32, "the consortium secret must be at least 32 bytes")
        keyed = HMAC<SHA256>(key: SymmetricKey(data: consortiumSecret))
    }

    private func mac(_ msg: String) -> [UInt8] {
        var h = keyed
        var msg = msg
        msg.withUTF8 { h.update(data: UnsafeRawBufferPointer($0)) }
        return h.finalize().withUnsafeBytes { Array($0) }
    }

    static func normalise(_ s: String) -> String {
        s.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// `PAT-` and 20 hex digits (80 bits) of HMAC(secret, system|identifier).
    public func pseudonym(system: String, identifier: String) -> String {
        let msg = "tally/patient/v1|\(PatientIdentity.normalise(system))|\(identifier.trimmingCharacters(in: .whitespacesAndNewlines))"
        return "PAT-" + String(mac(msg).hexString.prefix(20))
    }

    /// The ledger key of a source record: the site's own resource id (an EHR identifier) never
    /// appears in clear on the shared ledger, only a keyed hash of it.
    public func recordKey(org: String, type: String, sourceID: String) -> String {
        let msg = "tally/record-key/v1|\(org)|\(type)|\(sourceID)"
        return "\(org)/\(type)/" + String(mac(msg).hexString.prefix(32))
    }

    /// Keyed hash of family name, given name and birth date, for probabilistic matching across sites.
    public func demographicHash(family: String, given: String, birthDate: String) -> String {
        let msg = "tally/demographic/v1|\(PatientIdentity.normalise(family))|\(PatientIdentity.normalise(given))|\(birthDate)"
        return mac(msg).hexString
    }
}
