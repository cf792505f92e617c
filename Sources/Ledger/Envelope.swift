import Crypto
import Foundation

/// Per-record encryption with a key hierarchy.
///
/// - A *data key* (AES-256) is made per reader set and batch, and wrapped for each reader
///   organisation with HPKE base mode (DHKEM-X25519, HKDF-SHA256, AES-256-GCM). The wrapped keys form
///   a *keyset* on the ledger.
/// - Each record is sealed under the data key with AES-256-GCM, a fresh random nonce, and associated
///   data binding it to its keyset, record key and version, so a ciphertext cannot be replayed as
///   another record or version.
/// - The commitment is SHA-256 over a domain tag, a random salt and the plaintext; the salt travels
///   inside the ciphertext, so only readers can check the commitment and nobody can guess-and-check
///   low-entropy contents against it.
public enum Envelope {
    public static let ciphersuite = HPKE.Ciphersuite(kem: .Curve25519_HKDF_SHA256, kdf: .HKDF_SHA256, aead: .AES_GCM_256)
    static let saltBytes = 16
    /// AES-GCM's standard 96-bit nonce, drawn with the salt.
    static let nonceBytes = 12

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// A data key with the ledger form of its wraps.
    public struct KeySet: Sendable {
        public let id: String
        public let readers: [String]
        public let key: SymmetricKey
        public let json: JSON
    }

    static func wrapInfo(chain: String, keyset: String, reader: String) -> Data {
        Data("tally/keyset/v1|\(chain)|\(keyset)|\(reader)".utf8)
    }

    /// Makes a fresh data key and wraps it for every reader (org id → X25519 public key, base64).
    public static func makeKeySet(chain: String, id: String, readers: [String: String]) throws -> KeySet {
        let key = SymmetricKey(size: .bits256)
        var wraps: [String: JSON] = [:]
        for (org, pub) in readers {
            guard let raw = [UInt8](base64: pub), let pk = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: raw) else {
                throw Failure(description: "reader \(org) has no valid encryption key")
            }
            var sender = try HPKE.Sender(recipientKey: pk, ciphersuite: ciphersuite, info: wrapInfo(chain: chain, keyset: id, reader: org))
            let ct = try key.withUnsafeBytes { try sender.seal(Data($0), authenticating: Data(id.utf8)) }
            wraps[org] = ["enc": .string(Array(sender.encapsulatedKey).base64), "ct": .string(Array(ct).base64)]
        }
        let sortedReaders = readers.keys.sorted()
        return KeySet(id: id, readers: sortedReaders, key: key,
                      json: ["id": .string(id), "readers": .array(sortedReaders.map { .string($0) }), "wraps": .object(wraps)])
    }

    /// Recovers a data key from a keyset (as stored on the ledger) with an organisation's private key.
    /// A non-reader has no wrap and gets an error; a wrong key fails authentication.
    public static func unwrap(chain: String, keyset: JSON, org: String, key: AgreementKey) throws -> SymmetricKey {
        guard let id = keyset["id"]?.stringValue else { throw Failure(description: "keyset malformed") }
        guard let w = keyset["wraps"]?[org], let enc = w["enc"]?.stringValue.flatMap({ [UInt8](base64: $0) }),
              let ct = w["ct"]?.stringValue.flatMap({ [UInt8](base64: $0) })
        else { throw Failure(description: "\(org) is not a reader of keyset \(id)") }
        do {
            var r = try HPKE.Recipient(privateKey: key.key, ciphersuite: ciphersuite,
                                       info: wrapInfo(chain: chain, keyset: id, reader: org), encapsulatedKey: Data(enc))
            let raw = try r.open(Data(ct), authenticating: Data(id.utf8))
            return SymmetricKey(data: raw)
        } catch {
            throw Failure(description: "data key of keyset \(id) does not open with \(org)'s key")
        }
    }

    static func recordAAD(keyset: String, key: String, version: Int64) -> [UInt8] {
        // `tally/record/v1|KEYSET|KEY|VERSION`, built in one buffer (once per record sealed or opened).
        var out = [UInt8]()
        out.reserveCapacity(recordAADPrefix.count + keyset.utf8.count + key.utf8.count + 22)
        out.append(contentsOf: recordAADPrefix)
        out.append(contentsOf: keyset.utf8)
        out.append(0x7C)
        out.append(contentsOf: key.utf8)
        out.append(0x7C)
        out.append(contentsOf: String(version).utf8)
        return out
    }
    private static let recordAADPrefix = Array("tally/record/v1|".utf8)

    public static func commitment(salt: some DataProtocol, plaintext: some DataProtocol) -> Hash32 {
        var h = SHA256()
        h.update(data: Array("tally/commit/v1".utf8))
        h.update(data: salt)
        h.update(data: plaintext)
        return Hash32(digest: h.finalize())
    }

    /// Seals one record; returns the combined nonce‖ciphertext‖tag and the commitment.
    public static func seal(_ plaintext: [UInt8], key recordKey: String, version: Int64, keyset: KeySet) throws -> (sealed: [UInt8], commitment: Hash32) {
        try seal(plaintext, key: recordKey, version: version, keyset: keyset, random: SecureRandom.bytes(saltBytes + nonceBytes)[...])
    }

    /// Seals with the caller's fresh random bytes (`saltBytes` of salt, then `nonceBytes` of nonce),
    /// never reused: `RecordBatch` draws a whole batch's at once.
    static func seal(_ plaintext: [UInt8], key recordKey: String, version: Int64, keyset: KeySet,
                     random: ArraySlice<UInt8>) throws -> (sealed: [UInt8], commitment: Hash32) {
        precondition(random.count == saltBytes + nonceBytes)
        let salt = Array(random.prefix(saltBytes))
        let box = try AES.GCM.seal(salt + plaintext, using: keyset.key, nonce: AES.GCM.Nonce(data: random.suffix(nonceBytes)),
                                   authenticating: recordAAD(keyset: keyset.id, key: recordKey, version: version))
        guard let combined = box.combined else { throw Failure(description: "sealing failed") }
        return (Array(combined), commitment(salt: salt, plaintext: plaintext))
    }

    /// Opens a record (as stored on the ledger) with its data key and checks the commitment.
    public static func open(record: JSON, key: SymmetricKey) throws -> [UInt8] {
        guard let recordKey = record["key"]?.stringValue, let version = record["version"]?.intValue,
              let keyset = record["keyset"]?.stringValue,
              let sealed = record["sealed"]?.stringValue.flatMap({ [UInt8](base64: $0) }),
              let commitment = record["commitment"]?.stringValue.flatMap(Hash32.init(hex:))
        else { throw Failure(description: "record malformed") }
        let plain: Data
        do {
            plain = try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key,
                                     authenticating: recordAAD(keyset: keyset, key: recordKey, version: version))
        } catch {
            throw Failure(description: "record \(recordKey) does not open (wrong key, or tampered ciphertext)")
        }
        guard plain.count >= saltBytes else { throw Failure(description: "record \(recordKey) too short") }
        let salt = plain.prefix(saltBytes)
        let body = plain.dropFirst(saltBytes)
        guard Envelope.commitment(salt: salt, plaintext: body) == commitment else {
            throw Failure(description: "record \(recordKey) does not match its commitment")
        }
        return Array(body)
    }
}

/// Builds `record.put` arguments for a batch of plaintext records sharing one reader set: one data
/// key and one HPKE wrap per reader for the whole batch.
public struct RecordBatch {
    public struct Item {
        public var key: String
        public var patient: String
        public var type: String
        public var version: Int64
        public var plaintext: [UInt8]
        /// For encounters: the date of service, committed publicly (see `ServiceCommitment`).
        public var serviceDate: String?
        public init(key: String, patient: String, type: String, version: Int64 = 1, plaintext: [UInt8], serviceDate: String? = nil) {
            self.key = key
            self.patient = patient
            self.type = type
            self.version = version
            self.plaintext = plaintext
            self.serviceDate = serviceDate
        }
    }

    /// `serviceSecret` (the writer's `ServiceCommitment.secret`) adds a service commitment to every
    /// item with a `serviceDate`, naming the first writer as the provider.
    public static func arguments(chain: String, keysetID: String, readers: [String: String], writers: [String], items: [Item],
                                 serviceSecret: [UInt8]? = nil) throws -> JSON {
        let ks = try Envelope.makeKeySet(chain: chain, id: keysetID, readers: readers)
        // Each record is sealed on its own (fresh nonce and salt) and is pure work: done on all
        // cores, kept in order.
        let writerList = JSON.array(writers.map { .string($0) })
        let each = Envelope.saltBytes + Envelope.nonceBytes
        let random = SecureRandom.bytes(items.count * each)
        let built: [Result<JSON, Error>] = parallelMap(items.count) { i in
            Result {
                let it = items[i]
                let (sealed, commitment) = try Envelope.seal(it.plaintext, key: it.key, version: it.version, keyset: ks,
                                                             random: random[(i * each)..<((i + 1) * each)])
                var r: [String: JSON] = ["key": .string(it.key), "patient": .string(it.patient), "type": .string(it.type), "version": .int(it.version),
                                         "keyset": .string(ks.id), "sealed": .string(sealed.base64), "commitment": .string(commitment.hex),
                                         "writers": writerList]
                if let secret = serviceSecret, let date = it.serviceDate, let provider = writers.first {
                    let salt = ServiceCommitment.salt(secret: secret, recordKey: it.key)
                    r["service"] = .string(ServiceCommitment.commitment(salt: salt, patient: it.patient, provider: provider, date: date).hex)
                }
                return .object(r)
            }
        }
        let records = try built.map { try $0.get() }
        return ["keysets": [ks.json], "records": .array(records)]
    }
}
