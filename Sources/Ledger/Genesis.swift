import Foundation

/// Kinds of consortium member; they decide which contract operations an organisation may perform.
public enum MemberKind: String, Sendable, CaseIterable {
    case hospital, clinic, insurer, pharma
    case publicHealth = "public-health"
    case patientPortal = "patient-portal"

    /// Custodians hold patient records and vote on query policies.
    public var isCustodian: Bool { self == .hospital || self == .clinic }
}

public struct Member: Equatable, Sendable {
    public var id: String
    public var name: String
    public var kind: MemberKind
    public var signingKey: String
    public var encryptionKey: String
    /// Voting members take part in governance (and, later, consensus); audit nodes do not.
    public var voting: Bool

    public init(id: String, name: String, kind: MemberKind, signingKey: String, encryptionKey: String, voting: Bool = true) {
        self.id = id
        self.name = name
        self.kind = kind
        self.signingKey = signingKey
        self.encryptionKey = encryptionKey
        self.voting = voting
    }

    public var json: JSON {
        ["id": .string(id), "name": .string(name), "kind": .string(kind.rawValue),
         "signing_key": .string(signingKey), "encryption_key": .string(encryptionKey), "voting": .bool(voting)]
    }

    public init(json: JSON) throws {
        guard let id = json["id"]?.stringValue, Member.isValidID(id),
              let name = json["name"]?.stringValue,
              let kindText = json["kind"]?.stringValue, let kind = MemberKind(rawValue: kindText),
              let sk = json["signing_key"]?.stringValue, PublicSigningKey(base64: sk) != nil,
              let ek = json["encryption_key"]?.stringValue, [UInt8](base64: ek)?.count == 32
        else { throw LedgerError.invalidGenesis("member entry is incomplete or has an invalid key") }
        self.init(id: id, name: name, kind: kind, signingKey: sk, encryptionKey: ek, voting: json["voting"]?.boolValue ?? true)
    }

    /// Organisation ids are lowercase kebab-case: they appear in keys and file names.
    public static func isValidID(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }
}

/// Consortium-wide parameters fixed at genesis (changeable only by governance in later versions).
public struct ConsortiumParams: Equatable, Sendable {
    /// No query policy may set k below this floor.
    public var kFloor: Int64 = 11
    public var maxTransactionBytes: Int64 = 1 << 20
    public var maxBlockTransactions: Int64 = 2000

    public init() {}

    public var json: JSON {
        ["k_floor": .int(kFloor), "max_tx_bytes": .int(maxTransactionBytes), "max_block_txs": .int(maxBlockTransactions)]
    }

    public init(json: JSON?) {
        if let k = json?["k_floor"]?.intValue { kFloor = k }
        if let m = json?["max_tx_bytes"]?.intValue { maxTransactionBytes = m }
        if let b = json?["max_block_txs"]?.intValue { maxBlockTransactions = b }
    }
}

/// The consortium's founding document: chain id, founding time, parameters and members with their
/// public keys. Its canonical hash is block 0's only leaf.
public struct Genesis: Equatable, Sendable {
    public var chain: String
    public var time: Int64
    public var params: ConsortiumParams
    public var members: [Member]

    public init(chain: String, time: Int64, params: ConsortiumParams = ConsortiumParams(), members: [Member]) {
        self.chain = chain
        self.time = time
        self.params = params
        self.members = members
    }

    public var json: JSON {
        ["tally_genesis": 1, "chain": .string(chain), "time": .int(time), "params": params.json,
         "members": .array(members.map(\.json))]
    }

    public var hash: Hash32 { Hash32.sha256(json.canonicalBytes) }

    public init(json: JSON) throws {
        guard json["tally_genesis"]?.intValue == 1 else { throw LedgerError.invalidGenesis("not a Tally genesis file (missing tally_genesis: 1)") }
        guard let chain = json["chain"]?.stringValue, !chain.isEmpty else { throw LedgerError.invalidGenesis("chain id missing") }
        guard let time = json["time"]?.intValue else { throw LedgerError.invalidGenesis("time missing") }
        guard let ms = json["members"]?.arrayValue, !ms.isEmpty else { throw LedgerError.invalidGenesis("no members") }
        let members = try ms.map(Member.init(json:))
        guard Set(members.map(\.id)).count == members.count else { throw LedgerError.invalidGenesis("duplicate member id") }
        guard members.contains(where: \.voting) else { throw LedgerError.invalidGenesis("no voting member") }
        self.init(chain: chain, time: time, params: ConsortiumParams(json: json["params"]), members: members)
        guard params.kFloor >= 2 else { throw LedgerError.invalidGenesis("k_floor must be at least 2") }
    }

    public static func load(path: String) throws -> Genesis {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try Genesis(json: JSON.parse(Array(data)))
    }
}
