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

    private func macDigest(_ msg: String) -> HashedAuthenticationCode<SHA256> {
        var h = keyed
        var msg = msg
        msg.withUTF8 { h.update(data: UnsafeRawBufferPointer($0)) }
        return h.finalize()
    }

    /// `prefix` followed by the first `digits` hex digits of the MAC of `msg`, built in one buffer.
    private func macHex(_ msg: String, prefix: String, digits: Int) -> String {
        let code = macDigest(msg)
        var prefix = prefix
        return prefix.withUTF8 { head in
            String(unsafeUninitializedCapacity: head.count + digits) { out in
                _ = out.initialize(fromContentsOf: head)
                code.withUnsafeBytes { raw in
                    for i in 0..<digits {
                        let b = raw[i / 2]
                        let nibble = i % 2 == 0 ? b >> 4 : b & 0x0F
                        out[head.count + i] = nibble < 10 ? 0x30 + nibble : 0x57 + nibble
                    }
                }
                return head.count + digits
            }
        }
    }

    static func normalise(_ s: String) -> String {
        trimmed(s).lowercased()
    }

    /// `trimmingCharacters(in: .whitespacesAndNewlines)`, without Foundation's UTF-16 round trip when
    /// there is nothing to trim: every character that set holds is ASCII white space or not ASCII,
    /// so a string that starts and ends with a printable ASCII byte is returned as it is.
    static func trimmed(_ s: String) -> String {
        func keeps(_ b: UInt8?) -> Bool { b.map { $0 > 0x20 && $0 < 0x7F } ?? false }
        if keeps(s.utf8.first), keeps(s.utf8.last) { return s }
        return s.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `PAT-` and 20 hex digits (80 bits) of HMAC(secret, system|identifier).
    public func pseudonym(system: String, identifier: String) -> String {
        let msg = "tally/patient/v1|\(PatientIdentity.normalise(system))|\(PatientIdentity.trimmed(identifier))"
        return macHex(msg, prefix: "PAT-", digits: 20)
    }

    /// The ledger key of a source record: the site's own resource id (an EHR identifier) never
    /// appears in clear on the shared ledger, only a keyed hash of it.
    public func recordKey(org: String, type: String, sourceID: String) -> String {
        let msg = "tally/record-key/v1|\(org)|\(type)|\(sourceID)"
        return macHex(msg, prefix: "\(org)/\(type)/", digits: 32)
    }

    /// Keyed hash of family name, given name and birth date, for probabilistic matching across sites.
    public func demographicHash(family: String, given: String, birthDate: String) -> String {
        let msg = "tally/demographic/v1|\(PatientIdentity.normalise(family))|\(PatientIdentity.normalise(given))|\(birthDate)"
        return macHex(msg, prefix: "", digits: 64)
    }
}
