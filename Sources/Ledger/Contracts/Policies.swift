import Foundation

/// The derived state of a query policy. Never stored as a fact set by one party: always computed
/// from the custodians' votes on the ledger and the time.
public enum PolicyStatus: String, Sendable {
    case pending, active, rejected, expired

    public static func derive(_ policy: JSON, at time: Int64) -> PolicyStatus {
        if let exp = policy["expires"]?.intValue, time >= exp { return .expired }
        let custodians = (policy["custodians"]?.arrayValue ?? []).compactMap(\.stringValue)
        let votes = policy["votes"]?.objectValue ?? [:]
        let approvals = custodians.filter { votes[$0]?["vote"]?.stringValue == "approve" }.count
        let rejections = custodians.filter { votes[$0]?["vote"]?.stringValue == "reject" }.count
        let rule = policy["rule"]?.stringValue ?? "all"
        let needed = rule == "all" ? custodians.count : Int(policy["quorum"]?.intValue ?? Int64(custodians.count))
        if approvals >= needed && needed > 0 { return .active }
        if custodians.count - rejections < needed { return .rejected }
        return .pending
    }

    /// Whether `org` may answer queries under this policy at `time`: the policy is active and that
    /// organisation itself approved it. A member trusts nothing but its own vote on its own ledger.
    public static func approved(_ policy: JSON, by org: String, at time: Int64) -> Bool {
        derive(policy, at: time) == .active && policy["votes"]?[org]?["vote"]?.stringValue == "approve"
    }
}

enum PolicyContract {
    static func propose(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        let doc = try args.object("document")
        let d = Args(doc)
        let id = try d.string("id", maxLength: 64)
        guard Member.isValidID(id) else { throw .malformed("policy id must be lowercase letters, digits and '-'") }
        let k = try d.int("k")
        guard k >= ctx.params.kFloor else { throw .rejected("k = \(k) is below the consortium floor \(ctx.params.kFloor)") }
        let expires = try d.int("expires")
        guard expires > ctx.time else { throw .rejected("policy would already be expired") }
        if try ctx.read(StateKey.policy(id)) != nil { throw .rejected("policy \(id) already proposed") }
        let approval = doc["approval"] ?? ["rule": "all"]
        let rule = approval["rule"]?.stringValue ?? "all"
        guard rule == "all" || rule == "quorum" else { throw .malformed("approval rule must be all or quorum") }
        var custodians: [String]
        if let named = doc["custodians"]?.arrayValue {
            custodians = named.compactMap(\.stringValue)
            for c in custodians {
                guard let m = try ctx.activeMember(c), let kind = m["kind"]?.stringValue.flatMap(MemberKind.init(rawValue:)), kind.isCustodian else {
                    throw .rejected("\(c) is not an active custodian member")
                }
            }
        } else {
            custodians = []
            for v in try ctx.read(StateKey.chain)?["members"]?.arrayValue ?? [] {
                guard let id = v.stringValue, let m = try ctx.activeMember(id),
                      let kind = m["kind"]?.stringValue.flatMap(MemberKind.init(rawValue:)), kind.isCustodian else { continue }
                custodians.append(id)
            }
        }
        custodians = Array(Set(custodians)).sorted()
        guard !custodians.isEmpty else { throw .rejected("no custodian to approve the policy") }
        var quorum = Int64(custodians.count)
        if rule == "quorum" {
            guard let q = approval["quorum"]?.intValue, q >= 1, q <= quorum else { throw .malformed("quorum must be between 1 and the number of custodians") }
            quorum = q
        }
        let hash = Hash32.sha256(doc.canonicalBytes).hex
        let policy: JSON = ["id": .string(id), "hash": .string(hash), "document": doc, "proposer": .string(ctx.sender.id),
                            "proposed_at": .int(ctx.time), "rule": .string(rule), "quorum": .int(quorum),
                            "custodians": .array(custodians.map { .string($0) }), "votes": [:], "expires": .int(expires), "k": .int(k)]
        try ctx.write(StateKey.policy(id), policy)
        try ctx.record("policy", "policy.proposed", ["policy": .string(id), "hash": .string(hash)])
        return ["policy": .string(id), "hash": .string(hash), "status": .string(PolicyStatus.derive(policy, at: ctx.time).rawValue)]
    }

    static func vote(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        let id = try args.string("policy")
        let hash = try args.string("hash")
        let vote = try args.string("vote")
        guard vote == "approve" || vote == "reject" else { throw .malformed("vote must be approve or reject") }
        return try setVote(ctx, id: id, hash: hash, vote: vote)
    }

    static func withdraw(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        let id = try args.string("policy")
        guard let p = try ctx.read(StateKey.policy(id)) else { throw .rejected("no policy \(id)") }
        guard p["votes"]?[ctx.sender.org]?["vote"]?.stringValue == "approve" else {
            throw .rejected("\(ctx.sender.org) has no approval of \(id) to withdraw")
        }
        return try setVote(ctx, id: id, hash: p["hash"]?.stringValue ?? "", vote: "withdrawn")
    }

    static func setVote(_ ctx: ExecutionContext, id: String, hash: String, vote: String) throws(TransactionError) -> JSON {
        guard var p = try ctx.read(StateKey.policy(id)) else { throw .rejected("no policy \(id)") }
        guard p["hash"]?.stringValue == hash else { throw .rejected("vote names a different version of policy \(id)") }
        guard (p["custodians"]?.arrayValue ?? []).contains(.string(ctx.sender.org)) else {
            throw .unauthorised("\(ctx.sender.org) is not a custodian of policy \(id)")
        }
        if PolicyStatus.derive(p, at: ctx.time) == .expired { throw .rejected("policy \(id) has expired") }
        var votes = p["votes"]?.objectValue ?? [:]
        votes[ctx.sender.org] = ["vote": .string(vote), "by": .string(ctx.sender.id), "at": .int(ctx.time)]
        p = p.setting("votes", .object(votes))
        try ctx.write(StateKey.policy(id), p)
        let status = PolicyStatus.derive(p, at: ctx.time)
        try ctx.record("policy", "policy.\(vote == "withdrawn" ? "withdrawn" : "voted")",
                       ["policy": .string(id), "vote": .string(vote), "status": .string(status.rawValue)])
        return ["policy": .string(id), "status": .string(status.rawValue)]
    }
}

/// Audit events that are not side effects of another contract: decryptions and queries.
enum AuditContract {
    static func decrypt(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        let keys = try args.strings("records")
        guard !keys.isEmpty, keys.count <= 1000 else { throw .malformed("records must list 1 to 1000 record keys") }
        let purpose = try args.string("purpose", maxLength: 256)
        for key in keys {
            guard let r = try ctx.read(StateKey.record(key)) else { throw .rejected("no record \(key)") }
            guard (r["readers"]?.arrayValue ?? []).contains(.string(ctx.sender.org)) else {
                throw .unauthorised("\(ctx.sender.org) is not a reader of record \(key)")
            }
            try ctx.record(r["patient"]?.stringValue ?? "unknown", "record.decrypted",
                           ["record": .string(key), "version": r["version"] ?? .null, "purpose": .string(purpose)])
        }
        return ["audited": .int(Int64(keys.count))]
    }

    static func query(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        let hash = try args.string("query_hash")
        let policy = try args.string("policy")
        let purpose = try args.optionalString("purpose", maxLength: 256) ?? ""
        guard let p = try ctx.read(StateKey.policy(policy)) else { throw .rejected("no policy \(policy)") }
        let queryID = ctx.derivedID("query")
        try ctx.record("query", "query.submitted", ["query": .string(queryID), "query_hash": .string(hash), "policy": .string(policy),
                                                    "policy_status": .string(PolicyStatus.derive(p, at: ctx.time).rawValue),
                                                    "purpose": .string(purpose)])
        try ctx.write(StateKey.query(queryID), ["query": .string(queryID), "query_hash": .string(hash), "policy": .string(policy),
                                                "requester": .string(ctx.sender.org), "submitted_by": .string(ctx.sender.id),
                                                "time": .int(ctx.time), "height": .int(ctx.height), "tx": .string(ctx.txHash.hex)])
        // Outcomes of this requester's earlier queries ride along (no block of their own). One that is
        // malformed, already recorded or not this requester's is skipped, never a reason to refuse.
        var recorded: [JSON] = []
        for o in (args.json["outcomes"]?.arrayValue ?? []).prefix(maxOutcomesPerSubmission) {
            if let id = try? recordOutcome(ctx, Args(o)) { recorded.append(.string(id)) }
        }
        return ["query": .string(queryID), "pinned_time": .int(ctx.time), "height": .int(ctx.height), "outcomes_recorded": .array(recorded)]
    }

    static let maxOutcomesPerSubmission = 64

    /// `audit.result`: the requester's coordinator records which custodians answered a query, which
    /// refused and which did not answer — names only, never a count or a row.
    static func result(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        ["query": .string(try recordOutcome(ctx, args))]
    }

    static func recordOutcome(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> String {
        let id = try args.string("query")
        guard var q = try ctx.read(StateKey.query(id)) else { throw .rejected("no query \(id)") }
        guard q["requester"]?.stringValue == ctx.sender.org else { throw .unauthorised("only the query's requester records its outcome") }
        guard q["sites"] == nil else { throw .rejected("the outcome of \(id) is already recorded") }
        var sites: [String: JSON] = [:]
        for field in ["answered", "refused", "missing"] {
            let orgs = try args.strings(field)
            guard orgs.count <= 256 else { throw .malformed("\(field) lists too many sites") }
            for o in orgs where !Member.isValidID(o) { throw .malformed("\(field) names an invalid organisation id") }
            sites[field] = .array(orgs.sorted().map { .string($0) })
        }
        q = q.setting("sites", .object(sites)).setting("result_tx", .string(ctx.txHash.hex))
        try ctx.write(StateKey.query(id), q)
        try ctx.record("query", "query.answered", ["query": .string(id), "answered": sites["answered"]!, "refused": sites["refused"]!, "missing": sites["missing"]!])
        return id
    }
}
