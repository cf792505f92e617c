import Foundation

/// Consortium membership: founders from genesis; members added or removed by a majority of the
/// voting members. A proposal executes in the block whose vote makes the majority.
enum Membership {
    static func memberValue(_ m: Member, since: Int64) -> JSON {
        m.json.setting("status", "active").setting("since", .int(since))
    }

    static func votingMembers(_ ctx: ExecutionContext) throws(TransactionError) -> [String] {
        // Membership is small; the member list is kept as one index entry for deterministic scans.
        guard let idx = try ctx.read(StateKey.chain)?["members"]?.arrayValue else { return [] }
        var out: [String] = []
        for v in idx {
            guard let id = v.stringValue, let m = try ctx.activeMember(id), m["voting"]?.boolValue == true else { continue }
            out.append(id)
        }
        return out
    }

    static func propose(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        guard ctx.sender.orgVoting else { throw .unauthorised("only voting members propose membership changes") }
        let action = try args.string("action")
        var proposal: [String: JSON] = ["action": .string(action), "proposer": .string(ctx.sender.org),
                                        "proposed_at": .int(ctx.time), "status": "open", "votes": [:]]
        switch action {
        case "add":
            let m: Member
            do { m = try Member(json: try args.object("member")) } catch let e as TransactionError { throw e } catch {
                throw .malformed("member entry is incomplete or has an invalid key")
            }
            if let existing = try ctx.read(StateKey.member(m.id)), existing["status"]?.stringValue == "active" {
                throw .rejected("member \(m.id) already exists")
            }
            proposal["member"] = m.json
        case "remove":
            let id = try args.string("member_id")
            guard try ctx.activeMember(id) != nil else { throw .rejected("member \(id) is not an active member") }
            proposal["member_id"] = .string(id)
        default:
            throw .malformed("action must be add or remove")
        }
        let id = ctx.derivedID("mp")
        try ctx.write(StateKey.memberProposal(id), .object(proposal))
        try ctx.record("member", "member.proposed", ["proposal": .string(id), "action": .string(action)])
        let status = try tally(ctx, id: id, voter: ctx.sender.org, approve: true)
        return ["proposal": .string(id), "status": .string(status)]
    }

    static func vote(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        guard ctx.sender.orgVoting else { throw .unauthorised("only voting members vote on membership") }
        let id = try args.string("proposal")
        let approve = try args.bool("approve")
        let status = try tally(ctx, id: id, voter: ctx.sender.org, approve: approve)
        return ["proposal": .string(id), "status": .string(status)]
    }

    /// Records a vote and executes or rejects the proposal once the outcome is decided.
    static func tally(_ ctx: ExecutionContext, id: String, voter: String, approve: Bool) throws(TransactionError) -> String {
        guard var p = try ctx.read(StateKey.memberProposal(id)) else { throw .rejected("no membership proposal \(id)") }
        guard p["status"]?.stringValue == "open" else { throw .rejected("proposal \(id) is closed") }
        var votes = p["votes"]?.objectValue ?? [:]
        votes[voter] = .bool(approve)
        p = p.setting("votes", .object(votes))
        let voters = try votingMembers(ctx)
        let yes = voters.filter { votes[$0]?.boolValue == true }.count
        let no = voters.filter { votes[$0]?.boolValue == false }.count
        var status = "open"
        if yes * 2 > voters.count {
            status = "executed"
            try execute(ctx, p)
        } else if (voters.count - no) * 2 <= voters.count {
            status = "rejected"
        }
        p = p.setting("status", .string(status))
        try ctx.write(StateKey.memberProposal(id), p)
        try ctx.record("member", "member.voted", ["proposal": .string(id), "approve": .bool(approve), "status": .string(status)])
        return status
    }

    static func execute(_ ctx: ExecutionContext, _ p: JSON) throws(TransactionError) {
        var chain = try ctx.read(StateKey.chain) ?? [:]
        var index = chain["members"]?.arrayValue ?? []
        if p["action"]?.stringValue == "add", let mj = p["member"] {
            let m: Member
            do { m = try Member(json: mj) } catch { throw .rejected("stored member entry invalid") }
            try ctx.write(StateKey.member(m.id), memberValue(m, since: ctx.height))
            if !index.contains(.string(m.id)) { index.append(.string(m.id)) }
            chain = chain.setting("members", .array(index))
            try ctx.write(StateKey.chain, chain)
        } else if let id = p["member_id"]?.stringValue, let m = try ctx.read(StateKey.member(id)) {
            try ctx.write(StateKey.member(id), m.setting("status", "removed").setting("removed_at", .int(ctx.height)))
        }
    }
}

/// User identities certified by their organisation, each with one role.
enum IdentityContract {
    static func enroll(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        let name = try args.string("name", maxLength: 64)
        guard Member.isValidID(name) else { throw .malformed("user name must be lowercase letters, digits and '-'") }
        let role = try args.string("role")
        guard Role.all.contains(role) else { throw .malformed("unknown role \(role)") }
        let key = try args.string("key")
        guard PublicSigningKey(base64: key) != nil else { throw .malformed("key is not an Ed25519 public key") }
        if role == Role.admin && !ctx.sender.isOrganisation { throw .unauthorised("only the organisation key certifies admins") }
        let id = "\(ctx.sender.org)/\(name)"
        if let existing = try ctx.read(StateKey.identity(id)), existing["status"]?.stringValue == "active" {
            throw .rejected("identity \(id) already enrolled")
        }
        try ctx.write(StateKey.identity(id), ["id": .string(id), "org": .string(ctx.sender.org), "role": .string(role),
                                             "key": .string(key), "status": "active", "enrolled_at": .int(ctx.time),
                                             "enrolled_by": .string(ctx.sender.id)])
        try ctx.record("identity", "identity.enrolled", ["identity": .string(id), "role": .string(role)])
        return ["identity": .string(id)]
    }

    static func revoke(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        let name = try args.string("name", maxLength: 64)
        let id = "\(ctx.sender.org)/\(name)"
        guard let u = try ctx.read(StateKey.identity(id)), u["status"]?.stringValue == "active" else {
            throw .rejected("no active identity \(id)")
        }
        try ctx.write(StateKey.identity(id), u.setting("status", "revoked").setting("revoked_at", .int(ctx.time)))
        try ctx.record("identity", "identity.revoked", ["identity": .string(id)])
        return ["identity": .string(id)]
    }
}
