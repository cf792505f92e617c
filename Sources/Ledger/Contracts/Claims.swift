import Foundation

/// Insurance claims. A claim is a record sealed for exactly the provider and the payer; the ledger
/// keeps a public index entry (claim id, patient pseudonym, provider, payer, status) and the payer's
/// decisions. What a claim says — procedure, date, amount, the encounter it rests on — only the two
/// readers can open. Payers state which procedures each provider is authorised for, on the ledger.
enum ClaimContract {
    static let maxProcedures = 1000

    /// `claim.authorise`: the payer sets the procedure codes a provider may claim from it.
    static func authorise(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        guard ctx.sender.orgKind == .insurer else { throw .unauthorised("only insurers authorise providers for procedures") }
        let provider = try args.string("provider")
        guard let m = try ctx.activeMember(provider), let kind = m["kind"]?.stringValue.flatMap(MemberKind.init(rawValue:)), kind.isCustodian else {
            throw .rejected("provider \(provider) is not an active custodian member")
        }
        let codes = try args.strings("procedures")
        guard codes.count <= maxProcedures else { throw .malformed("at most \(maxProcedures) procedure codes") }
        for c in codes where c.isEmpty || c.utf8.count > 32 { throw .malformed("procedure codes must be 1 to 32 characters") }
        let sorted = Array(Set(codes)).sorted().map { JSON.string($0) }
        try ctx.write(StateKey.payerAuthorisation(payer: ctx.sender.org, provider: provider),
                      ["payer": .string(ctx.sender.org), "provider": .string(provider), "procedures": .array(sorted),
                       "by": .string(ctx.sender.id), "at": .int(ctx.time)])
        try ctx.record("claims", "claim.authorised", ["payer": .string(ctx.sender.org), "provider": .string(provider), "procedures": .int(Int64(sorted.count))])
        return ["provider": .string(provider), "procedures": .int(Int64(sorted.count))]
    }

    /// `claim.submit`: a custodian files a claim, sealed for itself and the payer.
    static func submit(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        guard ctx.sender.orgKind.isCustodian else { throw .unauthorised("only custodian members (hospitals, clinics) submit claims") }
        let payer = try args.string("payer")
        guard let m = try ctx.activeMember(payer), m["kind"]?.stringValue == MemberKind.insurer.rawValue else {
            throw .rejected("payer \(payer) is not an active insurer member")
        }
        let record = try args.object("record")
        let r = Args(record)
        guard try r.optionalString("type", maxLength: 64) == "Claim" else { throw .malformed("a claim's record must have type Claim") }
        let patient = try r.string("patient")
        guard PatientContract.isPseudonym(patient) else { throw .malformed("patient must be a pseudonym PAT-<20 hex>") }
        guard try ctx.read(StateKey.patient(patient)) != nil else { throw .rejected("patient \(patient) is not registered") }
        let key = try r.string("key", maxLength: 200)
        guard try ctx.read(StateKey.record(key)) == nil else { throw .rejected("claim record \(key) already exists") }
        var put: [String: JSON] = ["records": [record]]
        if let ks = args.json["keyset"] { put["keysets"] = [ks] }
        _ = try RecordContract.put(ctx, Args(.object(put)))
        // The claim must be readable by exactly its provider and its payer.
        let keyset = try r.string("keyset", maxLength: 96)
        let readers = Set((try ctx.read(StateKey.keyset(keyset))?["readers"]?.arrayValue ?? []).compactMap(\.stringValue))
        guard readers == [ctx.sender.org, payer] else { throw .rejected("a claim must be sealed for exactly the provider and the payer") }
        let id = ctx.derivedID("claim")
        try ctx.write(StateKey.claim(id), ["id": .string(id), "record": .string(key), "patient": .string(patient),
                                           "provider": .string(ctx.sender.org), "payer": .string(payer),
                                           "submitted_by": .string(ctx.sender.id), "submitted_at": .int(ctx.time),
                                           "status": "submitted", "decisions": []])
        try ctx.record(patient, "claim.submitted", ["claim": .string(id), "provider": .string(ctx.sender.org), "payer": .string(payer)])
        return ["claim": .string(id)]
    }

    /// `claim.decide`: the payer records its decision (approved, denied or flagged, with a reason code).
    static func decide(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        let id = try args.string("claim")
        let outcome = try args.string("outcome")
        guard ["approved", "denied", "flagged"].contains(outcome) else { throw .malformed("outcome must be approved, denied or flagged") }
        let reason = try args.optionalString("reason", maxLength: 64) ?? ""
        guard var c = try ctx.read(StateKey.claim(id)) else { throw .rejected("no claim \(id)") }
        guard c["payer"]?.stringValue == ctx.sender.org else { throw .unauthorised("only the claim's payer decides it") }
        var decisions = c["decisions"]?.arrayValue ?? []
        guard decisions.count < 16 else { throw .rejected("claim \(id) has reached its limit of decisions") }
        decisions.append(["outcome": .string(outcome), "reason": .string(reason), "by": .string(ctx.sender.id), "at": .int(ctx.time)])
        c = c.setting("status", .string(outcome)).setting("decisions", .array(decisions))
        try ctx.write(StateKey.claim(id), c)
        try ctx.record("claims", "claim.decided", ["claim": .string(id), "outcome": .string(outcome), "reason": .string(reason)])
        return ["claim": .string(id), "status": .string(outcome)]
    }
}

/// Research data integrity: a dataset's SHA-256 on the ledger, never the dataset.
enum AnchorContract {
    static func record(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        let digest = try args.string("sha256", maxLength: 64)
        guard digest.utf8.count == 64, Hash32(hex: digest) != nil, digest == digest.lowercased() else {
            throw .malformed("sha256 must be 64 lowercase hex characters")
        }
        let label = try args.string("label", maxLength: 200)
        let size = try args.optionalInt("bytes")
        if let existing = try ctx.read(StateKey.anchor(digest)) {
            throw .rejected("this file was already anchored at block \(existing["height"]?.intValue ?? -1) as \(existing["label"]?.stringValue ?? "?")")
        }
        var entry: JSON = ["sha256": .string(digest), "label": .string(label), "submitter": .string(ctx.sender.id),
                           "time": .int(ctx.time), "height": .int(ctx.height), "tx": .string(ctx.txHash.hex)]
        if let size { entry = entry.setting("bytes", .int(size)) }
        try ctx.write(StateKey.anchor(digest), entry)
        // The label names the latest version its organisation anchored under it.
        try ctx.write(StateKey.anchorLabel(org: ctx.sender.org, label: label), ["sha256": .string(digest), "height": .int(ctx.height)])
        try ctx.record("anchor", "anchor.recorded", ["sha256": .string(digest), "label": .string(label)])
        return ["sha256": .string(digest), "height": .int(ctx.height)]
    }
}
