import Crypto
import Foundation

/// Consortium pseudonyms. The government or enterprise identifier never reaches the ledger: the
/// pseudonym is a keyed hash (HMAC-SHA256 under the consortium secret, which members hold and the
/// ledger does not), so nobody without the secret can test a guessed identifier against it.
public struct PatientIdentity: Sendable {
    let secret: SymmetricKey

    public init(consortiumSecret: [UInt8]) {
        precondition(consortiumSecret.count >= 32, "the consortium secret must be at least 32 bytes")
        secret = SymmetricKey(data: consortiumSecret)
    }

    static func normalise(_ s: String) -> String {
        s.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// `PAT-` and 20 hex digits (80 bits) of HMAC(secret, system|identifier).
    public func pseudonym(system: String, identifier: String) -> String {
        let msg = "tally/patient/v1|\(PatientIdentity.normalise(system))|\(identifier.trimmingCharacters(in: .whitespacesAndNewlines))"
        let mac = HMAC<SHA256>.authenticationCode(for: Array(msg.utf8), using: secret)
        return "PAT-" + String(Array(mac).hexString.prefix(20))
    }

    /// The ledger key of a source record: the site's own resource id (an EHR identifier) never
    /// appears in clear on the shared ledger, only a keyed hash of it.
    public func recordKey(org: String, type: String, sourceID: String) -> String {
        let msg = "tally/record-key/v1|\(org)|\(type)|\(sourceID)"
        return "\(org)/\(type)/" + String(Array(HMAC<SHA256>.authenticationCode(for: Array(msg.utf8), using: secret)).hexString.prefix(32))
    }

    /// Keyed hash of family name, given name and birth date, for probabilistic matching across sites.
    public func demographicHash(family: String, given: String, birthDate: String) -> String {
        let msg = "tally/demographic/v1|\(PatientIdentity.normalise(family))|\(PatientIdentity.normalise(given))|\(birthDate)"
        return Array(HMAC<SHA256>.authenticationCode(for: Array(msg.utf8), using: secret)).hexString
    }
}
