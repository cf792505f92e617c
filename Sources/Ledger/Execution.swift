import Foundation

/// The acting identity of a transaction, resolved from world state.
public struct Identity: Equatable, Sendable {
    public var id: String
    public var org: String
    /// `org` for an organisation's own key, otherwise the certified role of a user.
    public var role: String
    public var orgKind: MemberKind
    public var orgVoting: Bool

    public var isOrganisation: Bool { role == Role.organisation }
}

/// Roles a user identity can be certified with.
public enum Role {
    public static let organisation = "org"
    public static let admin = "admin"
    public static let physician = "physician"
    public static let dataSteward = "data-steward"
    public static let patientPortal = "patient-portal"
    public static let analyst = "analyst"
    public static let claimsOfficer = "claims-officer"
    public static let auditor = "auditor"
    public static let all: Set<String> = [admin, physician, dataSteward, patientPortal, analyst, claimsOfficer, auditor]
}

/// What one transaction may read and write while it executes. Reads see the committed state, then
/// the earlier transactions of the same block, then this transaction's own writes. Writes stay in
/// this context until the transaction succeeds.
public final class ExecutionContext {
    public let height: Int64
    public let time: Int64
    public let txHash: Hash32
    public let txIndex: Int
    public let sender: Identity
    public let params: ConsortiumParams
    let base: StateReader
    let block: StateWrites
    var writes = StateWrites()
    var auditCount = 0

    init(height: Int64, time: Int64, txHash: Hash32, txIndex: Int, sender: Identity, params: ConsortiumParams, base: StateReader, block: StateWrites) {
        self.height = height
        self.time = time
        self.txHash = txHash
        self.txIndex = txIndex
        self.sender = sender
        self.params = params
        self.base = base
        self.block = block
    }

    func entry(_ key: String) throws -> StateEntry? {
        if let e = writes.entries[key] { return e }
        if let e = block.entries[key] { return e }
        return try base.entry(key)
    }

    public func get(_ key: String) throws -> JSON? { try entry(key)?.value }

    public func put(_ key: String, _ value: JSON) throws {
        store(key, StateEntry(value: value, version: try nextVersion(key), height: height))
    }

    /// Writes a value given as its canonical encoding (built with `CanonicalObject`).
    func put(_ key: String, encoded: [UInt8]) throws {
        put(key, encoded: encoded, version: try nextVersion(key))
    }

    /// Writes with a version the caller already knows (it read the key this transaction).
    func put(_ key: String, encoded: [UInt8], version: Int64) {
        store(key, StateEntry(encoded: encoded, version: version, height: height))
    }

    /// Every write goes here. A new key was just looked up (for its version) and not found, so its
    /// hash comes along (`StateEntry.keyHash`) and the commit does not compute it again.
    private func store(_ key: String, _ entry: StateEntry) {
        var e = entry
        e.keyHash = base.hashOfLatestMiss(key)
        writes.entries[key] = e
    }

    private func nextVersion(_ key: String) throws -> Int64 { (try entry(key)?.version ?? 0) + 1 }

    /// Appends an audit event under `subject` (a patient pseudonym, `query`, `member`, …).
    public func audit(_ subject: String, _ event: String, _ detail: [String: JSON]) throws {
        var d = detail
        d["event"] = .string(event)
        d["actor"] = .string(sender.id)
        d["org"] = .string(sender.org)
        d["time"] = .int(time)
        d["tx"] = .string(txHash.hex)
        let key = AuditKey.make(subject: subject, height: height, index: txIndex, n: auditCount)
        auditCount += 1
        try put(key, .object(d))
    }

    /// A deterministic id derived from the transaction hash.
    public func derivedID(_ prefix: String) -> String {
        prefix + "-" + String(txHash.hex.prefix(16))
    }
}

public enum AuditKey {
    /// Every audit event's key starts with this.
    static let namespace = "audit/"

    public static func make(subject: String, height: Int64, index: Int, n: Int) -> String {
        "\(namespace)\(subject)/\(pad(height, 12))/\(pad(Int64(index), 6))/\(pad(Int64(n), 4))"
    }

    public static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}

public enum LedgerError: Error, CustomStringConvertible, Equatable {
    case invalidGenesis(String)
    case corrupt(height: Int64, String)
    case notFound(String)
    case invalidBlock(height: Int64, String)
    case invalidProof(String)
    case storage(String)

    public var description: String {
        switch self {
        case .invalidGenesis(let m): return "invalid genesis: \(m)"
        case .corrupt(let h, let m): return h >= 0 ? "ledger corrupt at block \(h): \(m)" : "ledger corrupt: \(m)"
        case .notFound(let m): return "not found: \(m)"
        case .invalidBlock(let h, let m): return "invalid block \(h): \(m)"
        case .invalidProof(let m): return "invalid proof: \(m)"
        case .storage(let m): return "storage error: \(m)"
        }
    }
}
