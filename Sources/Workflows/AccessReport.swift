import Foundation
import Ledger

/// Everything that touched one patient's data, from the ledger, each entry with the inclusion proof
/// of the transaction that recorded it. Queries are listed with policy, requester, time and the
/// sites whose records of this patient they read — never any query's results.
public struct AccessReport: Sendable {
    public struct Entry: Sendable {
        /// `query`, `decryption`, `consent`, `access`, `break-glass`, `review` or `claim`.
        public var kind: String
        public var time: Int64
        public var actor: String
        public var summary: String
        public var tx: Hash32
        public var proof: InclusionProof
        public var detail: JSON

        public var json: JSON {
            ["kind": .string(kind), "time": .int(time), "actor": .string(actor), "summary": .string(summary),
             "tx": .string(tx.hex), "detail": detail, "proof": proof.json]
        }
    }

    public var patient: String
    public var height: Int64
    public var entries: [Entry]

    public var json: JSON {
        ["patient": .string(patient), "height": .int(height), "entries": .array(entries.map(\.json))]
    }

    static let kinds: [String: String] = [
        "record.decrypted": "decryption", "consent.granted": "consent", "consent.revoked": "consent", "access": "access",
        "access.break_glass": "break-glass", "access.reviewed": "review", "claim.submitted": "claim",
    ]

    /// Builds the report for `patient` from `ledger` (any member's copy: the audit trail is replicated).
    public static func build(ledger: Ledger, patient: String) throws -> AccessReport {
        guard try ledger.value(StateKey.patient(patient)) != nil else { throw WorkflowError("unknown patient \(patient): not registered on this ledger") }
        var entries: [Entry] = []
        func proof(_ txHex: String?) throws -> (Hash32, InclusionProof)? {
            guard let h = txHex.flatMap(Hash32.init(hex:)) else { return nil }
            return (h, try ledger.inclusionProof(for: h))
        }
        // Events recorded under the patient's own audit subject.
        for (_, e) in try ledger.entries(prefix: StateKey.auditPrefix(patient)) {
            let event = e["event"]?.stringValue ?? ""
            guard let kind = kinds[event], let (tx, p) = try proof(e["tx"]?.stringValue) else { continue }
            let actor = e["actor"]?.stringValue ?? "?"
            let summary: String
            switch event {
            case "record.decrypted": summary = "record \(e["record"]?.stringValue ?? "?") decrypted by \(actor) for \(e["purpose"]?.stringValue ?? "?")"
            case "consent.granted": summary = "consent \(e["consent"]?.stringValue ?? "?") granted to \(e["grantee"]?.stringValue ?? "?") for \(e["scope"]?.stringValue ?? "?")"
            case "consent.revoked": summary = "consent \(e["consent"]?.stringValue ?? "?") revoked"
            case "access": summary = "\(e["scope"]?.stringValue ?? "?") access by \(actor): \(e["allowed"]?.boolValue == true ? "allowed" : "refused (\(e["reason"]?.stringValue ?? "?"))")"
            case "access.break_glass": summary = "EMERGENCY (break-glass) access by \(actor), purpose \(e["purpose"]?.stringValue ?? "?")"
            case "access.reviewed": summary = "break-glass access \(e["access"]?.stringValue ?? "?") reviewed by \(actor): \(e["outcome"]?.stringValue ?? "?")"
            default: summary = "claim \(e["claim"]?.stringValue ?? "?") filed by \(e["provider"]?.stringValue ?? "?") with \(e["payer"]?.stringValue ?? "?")"
            }
            entries.append(Entry(kind: kind, time: e["time"]?.intValue ?? 0, actor: actor, summary: summary, tx: tx, proof: p, detail: e))
        }
        // Federated queries that read this patient's records at some site.
        for (_, q) in try ledger.entries(prefix: "query/") {
            guard let sites = try sitesRead(ledger: ledger, query: q, patient: patient), !sites.isEmpty,
                  let (tx, p) = try proof(q["tx"]?.stringValue) else { continue }
            var detail: JSON = ["query": q["query"] ?? .null, "policy": q["policy"] ?? .null, "requester": q["requester"] ?? .null,
                                "sites": .array(sites.map { .string($0) }), "outcome_recorded": .bool(q["sites"] != nil)]
            if let rt = q["result_tx"]?.stringValue { detail = detail.setting("result_tx", .string(rt)) }
            entries.append(Entry(kind: "query", time: q["time"]?.intValue ?? 0, actor: q["submitted_by"]?.stringValue ?? "?",
                                 summary: "query \(q["query"]?.stringValue ?? "?") under policy \(q["policy"]?.stringValue ?? "?") by \(q["requester"]?.stringValue ?? "?") read records held by \(sites.joined(separator: ", "))",
                                 tx: tx, proof: p, detail: detail))
        }
        entries.sort { ($0.time, $0.tx.hex) < ($1.time, $1.tx.hex) }
        return AccessReport(patient: patient, height: ledger.height, entries: entries)
    }

    /// The custodians whose records of `patient` the query read: those that held records of the
    /// patient at the query's pinned height, answered it (as recorded by `audit.result`; before that
    /// is recorded, those whose approval made them answer), and — if the policy requires consent —
    /// only where the patient's consent was in force at the pinned height and time.
    static func sitesRead(ledger: Ledger, query q: JSON, patient: String) throws -> [String]? {
        guard let height = q["height"]?.intValue, let time = q["time"]?.intValue, let policyID = q["policy"]?.stringValue else { return nil }
        guard let p = try ledger.value(StateKey.patient(patient), asOf: height) else { return nil }
        let holders = (p["locations"]?.objectValue ?? [:]).keys.filter { PatientContract.holdsRecords(p, org: $0) }
        guard !holders.isEmpty, let policy = try ledger.value(StateKey.policy(policyID), asOf: height) else { return [] }
        let doc = policy["document"] ?? [:]
        if let scope = doc["consent"]?["scope"]?.stringValue {
            let grantee = doc["consent"]?["grantee"]?.stringValue ?? q["requester"]?.stringValue ?? ""
            guard ConsentContract.verify(patient: p, grantee: grantee, scope: scope, at: time).allowed else { return [] }
        }
        let answered: Set<String>
        if let recorded = q["sites"]?["answered"]?.arrayValue {
            answered = Set(recorded.compactMap(\.stringValue))
        } else {
            answered = Set(holders.filter { PolicyStatus.approved(policy, by: $0, at: time) })
        }
        return holders.filter { answered.contains($0) }.sorted()
    }
}
