import Crypto
import Foundation

/// Deterministic contract code. Every operation reads only world state, its arguments, the sender's
/// resolved identity and the block's time and height — never the wall clock or randomness — so every
/// node computes the same state from the same blocks.
public enum Contracts {
    typealias Handler = (ExecutionContext, Args) throws(TransactionError) -> JSON

    /// Operation → (roles that may call it, handler). `org` is the organisation's own key.
    static let operations: [String: (roles: Set<String>, handler: Handler)] = [
        "member.propose": ([Role.organisation, Role.admin], Membership.propose),
        "member.vote": ([Role.organisation, Role.admin], Membership.vote),
        "identity.enroll": ([Role.organisation, Role.admin], IdentityContract.enroll),
        "identity.revoke": ([Role.organisation, Role.admin], IdentityContract.revoke),
        "patient.register": ([Role.organisation, Role.physician, Role.dataSteward, Role.admin], PatientContract.register),
        "patient.register_many": ([Role.organisation, Role.dataSteward, Role.admin], PatientContract.registerMany),
        "consent.grant": ([Role.patientPortal, Role.dataSteward], ConsentContract.grant),
        "consent.revoke": ([Role.patientPortal, Role.dataSteward], ConsentContract.revoke),
        "consent.access": ([Role.physician, Role.dataSteward, Role.claimsOfficer, Role.analyst], ConsentContract.access),
        "consent.review": ([Role.dataSteward, Role.auditor], ConsentContract.review),
        "policy.propose": ([Role.organisation, Role.dataSteward, Role.analyst, Role.admin], PolicyContract.propose),
        "policy.vote": ([Role.organisation, Role.dataSteward, Role.admin], PolicyContract.vote),
        "policy.withdraw": ([Role.organisation, Role.dataSteward, Role.admin], PolicyContract.withdraw),
        "record.put": ([Role.organisation, Role.physician, Role.dataSteward, Role.admin], RecordContract.put),
        "audit.decrypt": ([Role.organisation, Role.physician, Role.dataSteward, Role.claimsOfficer, Role.auditor, Role.admin, Role.analyst], AuditContract.decrypt),
        "audit.query": ([Role.organisation, Role.analyst, Role.dataSteward, Role.admin], AuditContract.query),
        "audit.result": ([Role.organisation, Role.analyst, Role.dataSteward, Role.admin], AuditContract.result),
        "claim.authorise": ([Role.organisation, Role.claimsOfficer, Role.admin], ClaimContract.authorise),
        "claim.submit": ([Role.organisation, Role.claimsOfficer, Role.dataSteward, Role.admin], ClaimContract.submit),
        "claim.decide": ([Role.organisation, Role.claimsOfficer, Role.admin], ClaimContract.decide),
        "anchor.record": ([Role.organisation, Role.analyst, Role.dataSteward, Role.auditor, Role.admin], AnchorContract.record),
    ]

    public static var operationNames: [String] { operations.keys.sorted() }

    static func execute(_ tx: Transaction, _ ctx: ExecutionContext) throws(TransactionError) -> JSON {
        guard let op = operations[tx.body.op] else { throw .malformed("unknown operation \(tx.body.op)") }
        // A patient-portal organisation acts as a portal with its own key.
        let role = ctx.sender.isOrganisation && ctx.sender.orgKind == .patientPortal ? Role.patientPortal : ctx.sender.role
        guard op.roles.contains(role) || (ctx.sender.isOrganisation && op.roles.contains(Role.organisation)) else {
            throw .unauthorised("role \(ctx.sender.role) may not perform \(tx.body.op)")
        }
        return try op.handler(ctx, Args(tx.body.args))
    }

    /// Resolves the sender of `tx` against state: an active member organisation, or an active user
    /// certified by one. The key in the transaction must be the registered one.
    static func resolveSender(_ tx: Transaction, read: (String) throws -> StateEntry?) throws(TransactionError) -> Identity {
        let sender = tx.body.sender
        let parts = sender.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { throw .malformed("sender must be ORG or ORG/USER") }
        let org = String(parts[0])
        /// The entry of `key` if it exists and is active; storage failures refuse the transaction.
        func active(_ key: String) throws(TransactionError) -> JSON? {
            let v: JSON?
            do { v = try read(key)?.value } catch { throw .rejected("state unreadable") }
            return v?["status"]?.stringValue == "active" ? v : nil
        }
        guard let member = try active(StateKey.member(org)) else { throw .unknownSender(sender) }
        guard let kindText = member["kind"]?.stringValue, let kind = MemberKind(rawValue: kindText) else { throw .unknownSender(sender) }
        let voting = member["voting"]?.boolValue ?? false
        if parts.count == 1 {
            guard member["signing_key"]?.stringValue == tx.body.signerKey else { throw .keyMismatch(sender) }
            return Identity(id: org, org: org, role: Role.organisation, orgKind: kind, orgVoting: voting)
        }
        guard let user = try active(StateKey.identity(sender)) else { throw .unknownSender(sender) }
        guard user["key"]?.stringValue == tx.body.signerKey else { throw .keyMismatch(sender) }
        return Identity(id: sender, org: org, role: user["role"]?.stringValue ?? "", orgKind: kind, orgVoting: voting)
    }

    /// The state writes that genesis makes.
    static func genesisWrites(_ g: Genesis) -> StateWrites {
        var w = StateWrites()
        w.entries[StateKey.params] = StateEntry(value: g.params.json, version: 1, height: 0)
        w.entries[StateKey.chain] = StateEntry(value: ["chain": .string(g.chain), "genesis": .string(g.hash.hex),
                                                             "members": .array(g.members.map { .string($0.id) })], version: 1, height: 0)
        for m in g.members {
            w.entries[StateKey.member(m.id)] = StateEntry(value: Membership.memberValue(m, since: 0), version: 1, height: 0)
        }
        return w
    }
}

/// Keys of world state, one function per namespace so the layout lives in one place.
public enum StateKey {
    public static let params = "consortium/params"
    public static let chain = "consortium/chain"
    public static func member(_ org: String) -> String { "member/\(org)" }
    public static func memberProposal(_ id: String) -> String { "proposal/member/\(id)" }
    public static func identity(_ id: String) -> String { "identity/\(id)" }
    /// The namespaces sender resolution reads (`Contracts.resolveSender`): a write under either can
    /// change who a transaction's sender is.
    static let senderNamespaces = [member(""), identity("")]
    public static func patient(_ id: String) -> String { "patient/\(id)" }
    /// Namespaces only ever read by whole key, never scanned by prefix: they are left out of the
    /// key-ordered state index (`LedgerSchema`), the index every new key of theirs (one per
    /// registered patient, one per record) would otherwise land in at a random place. Part of the
    /// file format: each row stores the flag (`by_key`) and the verifier compares it with a replay,
    /// so changing this list needs a new schema version and a migration.
    static let pointOnlyNamespaces = [patient(""), record("")]

    /// Whether `key` is in the key-ordered state index.
    @inline(__always)
    public static func isScannable(_ key: String) -> Bool {
        !pointOnlyNamespaces.contains { key.hasPrefix($0) }
    }

    /// Whether every key starting with `prefix` is in the key-ordered index (so a scan may use it):
    /// the prefix neither lies inside a point-only namespace nor spans one.
    static func isScannable(prefix: String) -> Bool {
        !pointOnlyNamespaces.contains { prefix.hasPrefix($0) || $0.hasPrefix(prefix) }
    }

    /// The integer a key is indexed by: the first 8 bytes of SHA-256 of its UTF-8, big-endian.
    /// Stored in the file, so it must never change.
    public static func hash(_ key: String) -> Int64 {
        var key = key
        let digest = key.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        return digest.withUnsafeBytes { Int64(bigEndian: $0.loadUnaligned(as: Int64.self)) }
    }
    public static func access(_ id: String) -> String { "access/\(id)" }
    public static func policy(_ id: String) -> String { "policy/\(id)" }
    public static func record(_ key: String) -> String { "record/\(key)" }
    public static func keyset(_ id: String) -> String { "keyset/\(id)" }
    public static func auditPrefix(_ subject: String) -> String { "audit/\(subject)/" }
    public static func claim(_ id: String) -> String { "claim/\(id)" }
    public static func payerAuthorisation(payer: String, provider: String) -> String { "payer/\(payer)/provider/\(provider)" }
    public static func anchor(_ sha256: String) -> String { "anchor/\(sha256)" }
    public static func anchorLabel(org: String, label: String) -> String { "anchor-label/\(org)/\(label)" }
    public static func query(_ id: String) -> String { "query/\(id)" }
}

/// Typed access to a transaction's arguments; a missing or mistyped field is a malformed transaction.
struct Args {
    let json: JSON
    init(_ json: JSON) { self.json = json }

    func string(_ k: String, maxLength: Int = 256) throws(TransactionError) -> String {
        guard let s = json[k]?.stringValue, !s.isEmpty else { throw .malformed("argument \(k) missing or not a string") }
        guard s.utf8.count <= maxLength else { throw .malformed("argument \(k) longer than \(maxLength) bytes") }
        return s
    }
    func optionalString(_ k: String, maxLength: Int = 1024) throws(TransactionError) -> String? {
        guard let v = json[k], !v.isNull else { return nil }
        guard let s = v.stringValue, s.utf8.count <= maxLength else { throw .malformed("argument \(k) not a string of at most \(maxLength) bytes") }
        return s
    }
    func int(_ k: String) throws(TransactionError) -> Int64 {
        guard let v = json[k]?.intValue else { throw .malformed("argument \(k) missing or not an integer") }
        return v
    }
    func optionalInt(_ k: String) throws(TransactionError) -> Int64? {
        guard let v = json[k], !v.isNull else { return nil }
        guard let i = v.intValue else { throw .malformed("argument \(k) not an integer") }
        return i
    }
    func bool(_ k: String) throws(TransactionError) -> Bool {
        guard let v = json[k]?.boolValue else { throw .malformed("argument \(k) missing or not a boolean") }
        return v
    }
    func object(_ k: String) throws(TransactionError) -> JSON {
        guard let v = json[k], case .object = v else { throw .malformed("argument \(k) missing or not an object") }
        return v
    }
    func array(_ k: String) throws(TransactionError) -> [JSON] {
        guard let v = json[k]?.arrayValue else { throw .malformed("argument \(k) missing or not an array") }
        return v
    }
    func strings(_ k: String) throws(TransactionError) -> [String] {
        let a = try array(k)
        var out: [String] = []
        for v in a {
            guard let s = v.stringValue else { throw .malformed("argument \(k) must be a list of strings") }
            out.append(s)
        }
        return out
    }
}

extension ExecutionContext {
    /// Reads state, turning storage failures into a refusal of the transaction.
    func read(_ key: String) throws(TransactionError) -> JSON? {
        do { return try get(key) } catch { throw .rejected("state unreadable") }
    }
    func write(_ key: String, _ value: JSON) throws(TransactionError) {
        do { try put(key, value) } catch { throw .rejected("state unwritable") }
    }
    func write(_ key: String, _ value: consuming CanonicalObject) throws(TransactionError) {
        do { try put(key, encoded: value.finished()) } catch { throw .rejected("state unwritable") }
    }
    /// Writes a key the caller has just read as absent (or at `version - 1`), without looking it up again.
    func write(_ key: String, _ value: consuming CanonicalObject, version: Int64) {
        put(key, encoded: value.finished(), version: version)
    }
    func record(_ subject: String, _ event: String, _ detail: [String: JSON]) throws(TransactionError) {
        do { try audit(subject, event, detail) } catch { throw .rejected("state unwritable") }
    }
    func activeMember(_ org: String) throws(TransactionError) -> JSON? {
        guard let m = try read(StateKey.member(org)), m["status"]?.stringValue == "active" else { return nil }
        return m
    }
}

extension JSON {
    /// Returns a copy with `key` set (objects only).
    public func setting(_ key: String, _ value: JSON) -> JSON {
        guard case .object(var o) = self else { return self }
        o[key] = value
        return .object(o)
    }
}
