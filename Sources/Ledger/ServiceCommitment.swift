import Crypto
import Foundation

/// A public, hiding commitment to "this provider saw this patient on this date", written beside an
/// encounter record so a payer can check a claim's encounter without being a reader of the record.
///
/// The commitment is SHA-256 over a domain tag, a salt, the patient pseudonym, the provider and the
/// date. The salt is an HMAC of the record key under a secret only the provider holds (derived from
/// its agreement key), so nobody can guess-and-check dates against the ledger; the provider reveals
/// the salt of one encounter — and nothing clinical — inside a claim sealed for itself and the payer.
public enum ServiceCommitment {
    static let tag = Array("tally-service-v1\u{0}".utf8)

    /// The provider's commitment secret, derived from its agreement key (nothing new to store or lose).
    public static func secret(_ keys: OrganisationKeys) -> [UInt8] {
        let k = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: keys.agreement.rawRepresentation),
                                       info: Array("tally service-commitment secret v1".utf8), outputByteCount: 32)
        return k.withUnsafeBytes { Array($0) }
    }

    /// The salt of one record: revealing it opens that record's commitment only.
    public static func salt(secret: [UInt8], recordKey: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(recordKey.utf8), using: SymmetricKey(data: secret)))
    }

    public static func commitment(salt: [UInt8], patient: String, provider: String, date: String) -> Hash32 {
        var h = SHA256()
        h.update(data: tag)
        h.update(data: salt)
        for field in [patient, provider, date] {
            h.update(data: Array(field.utf8))
            h.update(data: [0])
        }
        return Hash32(digest: h.finalize())
    }
}
