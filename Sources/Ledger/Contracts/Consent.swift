import Foundation

/// Consent scopes a patient can grant. `trial:<id>` names one research study.
public enum ConsentScope {
    public static let fixed: Set<String> = ["treatment", "payment", "operations", "research", "all"]
    public static let emergency = "emergency"

    public static func isValid(_ s: String) -> Bool {
        if fixed.contains(s) { return true }
        if s.hasPrefix("trial:") {
            let id = s.dropFirst(6)
            return !id.isEmpty && id.utf8.count <= 64 && Member.isValidID(String(id))
        }
        return false
    }
}

/// The answer of `verify`: allowed with the consent that allows it, or refused with a reason.
public struct ConsentDecision: Equatable, Sendable {
    public var allowed: Bool
    public var consentID: String?
    /// `patient_not_found`, `no_active_consent`, `expired`, `revoked`, or `emergency_override`.
    public var reason: String?
    public var requiresReview: Bool

    public init(allowed: Bool, consentID: String? = nil, reason: String? = nil, requiresReview: Bool = false) {
        self.allowed = allowed
        self.consentID = consentID
        self.reason = reason
        self.requiresReview = requiresReview
    }

    public var json: JSON {
        var o: [String: JSON] = ["allowed": .bool(allowed), "requires_review": .bool(requiresReview)]
        if let consentID { o["consent"] = .string(consentID) }
        if let reason { o["reason"] = .string(reason) }
        return .object(o)
    }
}

/// Patient index: consortium pseudonyms and where each patient's records are held.
public enum PatientContract {
    static func isPseudonym(_ s: String) -> Bool {
        s.utf8.count == 24 && s.hasPrefix("PAT-") && isLowerHex(s, from: 4)
    }

    /// Whether `s` from its `from`th byte on is lowercase hexadecimal: one pass over its bytes
    /// (the generic `utf8.allSatisfy` cost 36 instructions a character on the registration path).
    static func isLowerHex(_ s: String, from: Int = 0) -> Bool {
        var s = s
        return s.withUTF8 { u in
            guard from <= u.count else { return false }
            var bad: UInt8 = 0
            for i in from..<u.count { // no early exit: a branch-free loop over a few dozen bytes
                let c = u[i]
                bad |= ((c &- 0x30) > 9 ? 1 : 0) & ((c &- 0x61) > 5 ? 1 : 0)
            }
            return bad == 0
        }
    }

    static func register(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        guard ctx.sender.orgKind.isCustodian || ctx.sender.orgKind == .insurer else {
            throw .unauthorised("only custodians and insurers register patients")
        }
        let pid = try args.string("patient")
        let created = try registerOne(ctx, pid, try args.string("demographic_hash"))
        return ["patient": .string(pid), "new_location": .bool(created)]
    }

    /// Most patients one `patient.register_many` may carry (a bulk load's batch).
    public static let maxBatch = 1000

    /// `patient.register` for many patients under one signature (bulk ingest): all or none. Each
    /// entry is `{patient, demographic_hash}`; the result counts new record-location entries.
    static func registerMany(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        guard ctx.sender.orgKind.isCustodian || ctx.sender.orgKind == .insurer else {
            throw .unauthorised("only custodians and insurers register patients")
        }
        let list = try args.array("patients")
        guard !list.isEmpty, list.count <= maxBatch else { throw .malformed("patients must list 1 to \(maxBatch) entries") }
        var created = 0
        for (i, entry) in list.enumerated() {
            guard let pid = entry["patient"]?.stringValue, let demo = entry["demographic_hash"]?.stringValue else {
                throw .malformed("patients[\(i)] needs patient and demographic_hash")
            }
            do { if try registerOne(ctx, pid, demo) { created += 1 } } catch {
                throw error.prefixed("patients[\(i)]: ")
            }
        }
        return ["patients": .int(Int64(list.count)), "new_locations": .int(Int64(created))]
    }

    /// Adds the sender's organisation to `pid`'s record-location index; true when it was new.
    private static func registerOne(_ ctx: ExecutionContext, _ pid: String, _ demo: String) throws(TransactionError) -> Bool {
        guard isPseudonym(pid) else { throw .malformed("patient must be a pseudonym PAT-<20 hex>") }
        guard demo.utf8.count == 64, isLowerHex(demo) else { throw .malformed("demographic_hash must be 64 hex characters") }
        let key = StateKey.patient(pid)
        guard var p = try ctx.read(key) else {
            // A new patient (most registrations): the entry is written straight to its canonical
            // bytes, keys in order; `CommitPathTests.aNewPatientIsStoredAsTheDictionaryEncodes` checks the bytes.
            var here = CanonicalObject(capacity: 24)
            here.field("since", .int(ctx.time))
            var locations = CanonicalObject(capacity: 64)
            locations.field(ctx.sender.org, here)
            var o = CanonicalObject(capacity: 224 + ctx.sender.org.utf8.count) // ≈ 201 bytes beside the organisation's name: one allocation
            o.field("consents", [:])
            o.field("demographic_hash", .string(demo))
            o.field("id", .string(pid))
            o.field("locations", locations)
            o.field("registered_at", .int(ctx.time))
            ctx.write(key, o, version: 1) // read as absent just above: its first version
            return true
        }
        var locations = p["locations"]?.objectValue ?? [:]
        let created = locations[ctx.sender.org] == nil
        if created {
            locations[ctx.sender.org] = ["since": .int(ctx.time)]
            p = p.setting("locations", .object(locations))
            try ctx.write(key, p)
        }
        return created
    }

    /// Marks `org` in `pid`'s record-location index as holding records of the patient (adding the
    /// organisation if it wrote a record without registering the patient). Written once, when the
    /// organisation's first record of the patient commits: records are never removed, so the mark
    /// never goes back. (An earlier version counted the records here; that rewrote the patient's
    /// entry for every block that touched the patient: 55,600 state rows in a 20,000-patient load.)
    /// `entry` is the patient's entry as this transaction read it (`record.put` writes no patient entry).
    static func noteHoldsRecords(_ ctx: ExecutionContext, patient: String, entry: JSON, org: String) throws(TransactionError) {
        var p = entry
        var locations = p["locations"]?.objectValue ?? [:]
        var here = locations[org]?.objectValue ?? [:]
        guard here["records_since"] == nil else { return }
        if here["since"] == nil { here["since"] = .int(ctx.time) }
        here["records_since"] = .int(ctx.time)
        locations[org] = .object(here)
        p = p.setting("locations", .object(locations))
        try ctx.write(StateKey.patient(patient), p)
    }

    /// Whether `org` holds records of the patient whose entry is `patient`, by the record-location
    /// index. Entries written before the mark existed counted records instead (`records`).
    public static func holdsRecords(_ patient: JSON, org: String) -> Bool {
        guard let here = patient["locations"]?[org] else { return false }
        return here["records_since"] != nil || (here["records"]?.intValue ?? 0) > 0
    }
}

/// Granular, time-bound, revocable consent; emergency (break-glass) access allowed but flagged for review.
public enum ConsentContract {
    static func grant(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        let pid = try args.string("patient")
        let grantee = try args.string("grantee")
        let scope = try args.string("scope")
        let expires = try args.int("expires")
        guard ConsentScope.isValid(scope) else { throw .malformed("unknown consent scope \(scope)") }
        guard try ctx.activeMember(grantee) != nil else { throw .rejected("grantee \(grantee) is not an active member") }
        guard expires > ctx.time else { throw .rejected("consent would already be expired") }
        guard var p = try ctx.read(StateKey.patient(pid)) else { throw .rejected("patient_not_found") }
        var consents = p["consents"]?.objectValue ?? [:]
        let id = ctx.derivedID("consent")
        consents[id] = ["grantee": .string(grantee), "scope": .string(scope), "granted_at": .int(ctx.time),
                        "expires": .int(expires), "status": "active", "granted_by": .string(ctx.sender.id)]
        p = p.setting("consents", .object(consents))
        try ctx.write(StateKey.patient(pid), p)
        try ctx.record(pid, "consent.granted", ["consent": .string(id), "grantee": .string(grantee), "scope": .string(scope), "expires": .int(expires)])
        return ["consent": .string(id)]
    }

    static func revoke(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        let pid = try args.string("patient")
        let id = try args.string("consent")
        guard var p = try ctx.read(StateKey.patient(pid)) else { throw .rejected("patient_not_found") }
        var consents = p["consents"]?.objectValue ?? [:]
        guard let c = consents[id] else { throw .rejected("consent not found") }
        guard c["status"]?.stringValue == "active" else { throw .rejected("consent already revoked") }
        consents[id] = c.setting("status", "revoked").setting("revoked_at", .int(ctx.time)).setting("revoked_by", .string(ctx.sender.id))
        p = p.setting("consents", .object(consents))
        try ctx.write(StateKey.patient(pid), p)
        try ctx.record(pid, "consent.revoked", ["consent": .string(id)])
        return ["consent": .string(id)]
    }

    /// The consent check, as a pure function of the patient entry and a time.
    public static func verify(patient: JSON?, grantee: String, scope: String, at time: Int64) -> ConsentDecision {
        guard let patient else { return ConsentDecision(allowed: false, reason: "patient_not_found", requiresReview: false) }
        if scope == ConsentScope.emergency {
            return ConsentDecision(allowed: true, reason: "emergency_override", requiresReview: true)
        }
        let consents = (patient["consents"]?.objectValue ?? [:]).sorted { $0.key < $1.key }
        let matching = consents.filter { _, c in
            c["grantee"]?.stringValue == grantee && (c["scope"]?.stringValue == scope || c["scope"]?.stringValue == "all")
                && (c["granted_at"]?.intValue ?? .max) <= time
        }
        if let (id, _) = matching.first(where: { _, c in c["status"]?.stringValue == "active" && (c["expires"]?.intValue ?? 0) > time }) {
            return ConsentDecision(allowed: true, consentID: id, reason: nil, requiresReview: false)
        }
        // Explain the refusal by the most recent matching grant.
        let latest = matching.max { ($0.value["granted_at"]?.intValue ?? 0, $0.key) < ($1.value["granted_at"]?.intValue ?? 0, $1.key) }
        let reason: String
        if let (_, c) = latest {
            reason = c["status"]?.stringValue == "revoked" ? "revoked" : "expired"
        } else {
            reason = "no_active_consent"
        }
        return ConsentDecision(allowed: false, reason: reason, requiresReview: false)
    }

    /// Records an access to a patient's data by the sender's organisation. The decision is made
    /// here, from the ledger, at block time; the access and its decision are audited either way.
    static func access(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        let pid = try args.string("patient")
        let scope = try args.string("scope")
        let purpose = try args.optionalString("purpose", maxLength: 256) ?? ""
        guard scope == ConsentScope.emergency || ConsentScope.isValid(scope) else { throw .malformed("unknown scope \(scope)") }
        let decision = verify(patient: try ctx.read(StateKey.patient(pid)), grantee: ctx.sender.org, scope: scope, at: ctx.time)
        let accessID = ctx.derivedID("access")
        var entry: [String: JSON] = ["patient": .string(pid), "actor": .string(ctx.sender.id), "org": .string(ctx.sender.org),
                                     "scope": .string(scope), "purpose": .string(purpose), "time": .int(ctx.time),
                                     "decision": decision.json]
        if decision.requiresReview { entry["review"] = ["status": "pending"] }
        try ctx.write(StateKey.access(accessID), .object(entry))
        if decision.reason != "patient_not_found" {
            var detail: [String: JSON] = ["access": .string(accessID), "scope": .string(scope), "allowed": .bool(decision.allowed),
                                          "purpose": .string(purpose)]
            if let r = decision.reason { detail["reason"] = .string(r) }
            if let c = decision.consentID { detail["consent"] = .string(c) }
            if decision.requiresReview { detail["break_glass"] = true }
            try ctx.record(pid, decision.requiresReview ? "access.break_glass" : "access", detail)
        }
        return decision.json.setting("access", .string(accessID))
    }

    /// The mandatory post-hoc review of a break-glass access, by a data steward or auditor of the
    /// accessing organisation or of an organisation holding the patient's records.
    static func review(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        let accessID = try args.string("access")
        let outcome = try args.string("outcome")
        guard outcome == "justified" || outcome == "unjustified" else { throw .malformed("outcome must be justified or unjustified") }
        let note = try args.optionalString("note", maxLength: 1024) ?? ""
        guard var a = try ctx.read(StateKey.access(accessID)) else { throw .rejected("no access \(accessID)") }
        guard a["review"]?["status"]?.stringValue == "pending" else { throw .rejected("access \(accessID) needs no review") }
        let pid = a["patient"]?.stringValue ?? ""
        let holders = try ctx.read(StateKey.patient(pid))?["locations"]?.objectValue?.keys.map { $0 } ?? []
        guard a["org"]?.stringValue == ctx.sender.org || holders.contains(ctx.sender.org) else {
            throw .unauthorised("reviewer's organisation neither made the access nor holds the patient's records")
        }
        guard a["actor"]?.stringValue != ctx.sender.id else { throw .unauthorised("an access cannot be reviewed by its own actor") }
        a = a.setting("review", ["status": .string(outcome), "reviewer": .string(ctx.sender.id), "note": .string(note), "at": .int(ctx.time)])
        try ctx.write(StateKey.access(accessID), a)
        try ctx.record(pid, "access.reviewed", ["access": .string(accessID), "outcome": .string(outcome)])
        return ["access": .string(accessID), "outcome": .string(outcome)]
    }
}
