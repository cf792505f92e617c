import Federation
import Foundation
import Ledger

/// What a claim says, sealed for the provider and the payer. Besides the billing fields it carries
/// the evidence for its encounter: the encounter record's key and the salt that opens that record's
/// public service commitment. Nothing clinical is in it.
public struct Claim: Equatable, Sendable {
    public var localID: String
    public var patient: String
    public var provider: String
    public var procedureCode: String
    public var serviceDate: String
    public var amountCents: Int64
    public var encounterRecord: String?
    public var serviceSalt: [UInt8]?

    public init(localID: String, patient: String, provider: String, procedureCode: String, serviceDate: String, amountCents: Int64,
                encounterRecord: String? = nil, serviceSalt: [UInt8]? = nil) {
        self.localID = localID
        self.patient = patient
        self.provider = provider
        self.procedureCode = procedureCode
        self.serviceDate = serviceDate
        self.amountCents = amountCents
        self.encounterRecord = encounterRecord
        self.serviceSalt = serviceSalt
    }

    /// The sealed payload: the `Claim` record payload the views read, plus the evidence fields.
    public var json: JSON {
        var j = RecordPayload.claim(id: localID, provider: provider, procedureCode: procedureCode, serviceDate: serviceDate, amountCents: amountCents).json
        if let encounterRecord { j = j.setting("encounter_record", .string(encounterRecord)) }
        if let serviceSalt { j = j.setting("service_salt", .string(serviceSalt.hexString)) }
        return j
    }

    public init(payload: [UInt8], patient: String) throws {
        guard case .claim(let id, let provider, let proc, let date, let amount) = try RecordPayload(bytes: payload) else {
            throw WorkflowError("the sealed record is not a claim")
        }
        let j = try JSON.parse(payload)
        self.init(localID: id, patient: patient, provider: provider, procedureCode: proc, serviceDate: date, amountCents: amount,
                  encounterRecord: j["encounter_record"]?.stringValue, serviceSalt: j["service_salt"]?.stringValue.flatMap { [UInt8](hex: $0) })
    }

    /// Checks the fields a provider types in; the messages name the field, never its value.
    public func validate() throws {
        guard Member.isValidID(provider) else { throw WorkflowError("provider must be a member id") }
        guard patient.hasPrefix("PAT-"), patient.utf8.count == 24 else { throw WorkflowError("patient must be a consortium pseudonym (PAT-…)") }
        guard !procedureCode.isEmpty, procedureCode.utf8.count <= 32, procedureCode.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }) else {
            throw WorkflowError("procedure code must be 1 to 32 letters, digits, '.' or '-'")
        }
        guard Claims.isDate(serviceDate) else { throw WorkflowError("service date must be YYYY-MM-DD") }
        guard amountCents > 0, amountCents < 100_000_000_00 else { throw WorkflowError("amount must be positive and below 100,000,000.00") }
        guard !localID.isEmpty, localID.utf8.count <= 64, Member.isValidID(localID.lowercased()) else {
            throw WorkflowError("claim number must be 1 to 64 letters, digits or '-'")
        }
    }
}

/// A workflow request that cannot be answered (unknown claim or patient, bad claim fields), with a
/// message for the person at the terminal; never carries clinical content.
public struct WorkflowError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ d: String) { description = d }
}

/// The payer's answer for one claim.
public struct ClaimVerdict: Sendable {
    public enum Outcome: String, Sendable { case approved, denied, flagged }
    public var claimID: String
    public var outcome: Outcome
    /// `no_matching_encounter`, `provider_not_authorised`, `duplicate_across_providers`, or empty.
    public var reason: String
    public var message: String
    /// Other providers' claims for the same patient, procedure and date (named to the payer only).
    public var duplicates: [(claim: String, provider: String)]
    public var claim: Claim

    public var json: JSON {
        ["claim": .string(claimID), "outcome": .string(outcome.rawValue), "reason": .string(reason), "message": .string(message),
         "duplicates": .array(duplicates.map { ["claim": .string($0.claim), "provider": .string($0.provider)] }),
         "procedure_code": .string(claim.procedureCode), "service_date": .string(claim.serviceDate), "provider": .string(claim.provider),
         "amount_cents": .int(claim.amountCents)]
    }
}

public enum Claims {
    static func isDate(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count == 10, u[4] == 0x2D, u[7] == 0x2D else { return false }
        for (i, c) in u.enumerated() where i != 4 && i != 7 { guard c >= 0x30 && c <= 0x39 else { return false } }
        let m = Int(s.dropFirst(5).prefix(2)) ?? 0, d = Int(s.suffix(2)) ?? 0
        return (1...12).contains(m) && (1...31).contains(d)
    }

    /// The provider's `claim.submit` arguments: the claim sealed for the provider and the payer, with
    /// the encounter evidence (the record key and the salt of its service commitment) inside.
    public static func submission(_ claim: Claim, provider keys: OrganisationKeys, ledger: Ledger, payer: String) throws -> JSON {
        try claim.validate()
        guard claim.provider == keys.org else { throw WorkflowError("a claim is submitted by its own provider") }
        guard let payerMember = try ledger.value(StateKey.member(payer)), payerMember["status"]?.stringValue == "active",
              payerMember["kind"]?.stringValue == MemberKind.insurer.rawValue, let payerKey = payerMember["encryption_key"]?.stringValue
        else { throw WorkflowError("payer \(payer) is not an active insurer member") }
        guard try ledger.value(StateKey.patient(claim.patient)) != nil else { throw WorkflowError("patient \(claim.patient) is not registered on the ledger") }
        var c = claim
        if let enc = claim.encounterRecord {
            guard let r = try ledger.value(StateKey.record(enc)), r["type"]?.stringValue == "Encounter" else {
                throw WorkflowError("encounter record \(enc) is not on the ledger")
            }
            c.serviceSalt = ServiceCommitment.salt(secret: ServiceCommitment.secret(keys), recordKey: enc)
        }
        guard let ownKey = try ledger.value(StateKey.member(keys.org))?["encryption_key"]?.stringValue else { throw WorkflowError("\(keys.org) is not a member") }
        let recordKey = "\(keys.org)/claim/\(claim.localID.lowercased())"
        let keysetID = "ks-claim-" + Hash32.sha256(Array(recordKey.utf8)).hex.prefix(24)
        let args = try RecordBatch.arguments(chain: ledger.chain, keysetID: String(keysetID), readers: [keys.org: ownKey, payer: payerKey],
                                             writers: [keys.org], items: [.init(key: recordKey, patient: claim.patient, type: "Claim", plaintext: c.json.canonicalBytes)])
        return ["payer": .string(payer), "keyset": args["keysets"]?.arrayValue?.first ?? .null, "record": args["records"]?.arrayValue?.first ?? .null]
    }
}

/// Verifies claims at the payer, from the ledger alone: the payer opens only claims sealed for it,
/// and checks the encounter through its public service commitment, never by reading the record.
public struct ClaimVerifier {
    public let ledger: Ledger
    public let keys: OrganisationKeys

    public init(ledger: Ledger, keys: OrganisationKeys) {
        self.ledger = ledger
        self.keys = keys
    }

    /// Opens a claim addressed to this payer.
    public func open(_ claimID: String) throws -> (entry: JSON, claim: Claim) {
        guard let entry = try ledger.value(StateKey.claim(claimID)) else { throw WorkflowError("no claim \(claimID) on this ledger") }
        guard entry["payer"]?.stringValue == keys.org else { throw WorkflowError("claim \(claimID) is not addressed to \(keys.org)") }
        guard let rk = entry["record"]?.stringValue, let record = try ledger.value(StateKey.record(rk)),
              let ksID = record["keyset"]?.stringValue, let keyset = try ledger.value(StateKey.keyset(ksID)) else {
            throw WorkflowError("claim \(claimID) has no sealed record on this ledger")
        }
        let payload: [UInt8]
        do {
            let key = try Envelope.unwrap(chain: ledger.chain, keyset: keyset, org: keys.org, key: keys.agreement)
            payload = try Envelope.open(record: record, key: key)
        } catch { throw WorkflowError("claim \(claimID) cannot be opened by \(keys.org): \(error)") }
        return (entry, try Claim(payload: payload, patient: entry["patient"]?.stringValue ?? ""))
    }

    public func verify(_ claimID: String) throws -> ClaimVerdict {
        let (entry, claim) = try open(claimID)
        let provider = entry["provider"]?.stringValue ?? ""
        func verdict(_ o: ClaimVerdict.Outcome, _ reason: String, _ message: String, _ dups: [(String, String)] = []) -> ClaimVerdict {
            ClaimVerdict(claimID: claimID, outcome: o, reason: reason, message: message, duplicates: dups.map { (claim: $0.0, provider: $0.1) }, claim: claim)
        }
        guard claim.provider == provider else {
            return verdict(.denied, "provider_mismatch", "the sealed claim names \(claim.provider) but was filed by \(provider)")
        }
        // 1. The encounter: a record of the provider's, for this patient, whose service commitment opens to this date.
        guard let enc = claim.encounterRecord, let salt = claim.serviceSalt, let record = try ledger.value(StateKey.record(enc)),
              record["type"]?.stringValue == "Encounter", record["patient"]?.stringValue == claim.patient,
              (record["writers"]?.arrayValue ?? []).contains(.string(provider)),
              let committed = record["service"]?.stringValue,
              ServiceCommitment.commitment(salt: salt, patient: claim.patient, provider: provider, date: claim.serviceDate).hex == committed
        else {
            return verdict(.denied, "no_matching_encounter", "no encounter of this patient at \(provider) on the claimed date is committed on the ledger")
        }
        // 2. The provider is authorised by this payer for the procedure.
        let auth = try ledger.value(StateKey.payerAuthorisation(payer: keys.org, provider: provider))
        guard (auth?["procedures"]?.arrayValue ?? []).contains(.string(claim.procedureCode)) else {
            return verdict(.denied, "provider_not_authorised", "\(provider) is not authorised by \(keys.org) for the claimed procedure")
        }
        // 3. The same patient, procedure and date claimed by another provider.
        var dups: [(String, String)] = []
        for (_, other) in try ledger.entries(prefix: "claim/") {
            guard let oid = other["id"]?.stringValue, oid != claimID, other["payer"]?.stringValue == keys.org,
                  other["patient"]?.stringValue == claim.patient, let op = other["provider"]?.stringValue, op != provider,
                  let (_, oc) = try? open(oid), oc.procedureCode == claim.procedureCode, oc.serviceDate == claim.serviceDate else { continue }
            dups.append((oid, op))
        }
        if !dups.isEmpty {
            return verdict(.flagged, "duplicate_across_providers",
                           "the same patient, procedure and date is claimed by \(dups.count) other provider(s)", dups)
        }
        return verdict(.approved, "", "encounter committed, provider authorised, no duplicate")
    }

    /// Claims addressed to this payer, newest first.
    public func pending() throws -> [JSON] {
        try ledger.entries(prefix: "claim/").map(\.value).filter { $0["payer"]?.stringValue == keys.org }
            .sorted { ($0["submitted_at"]?.intValue ?? 0) > ($1["submitted_at"]?.intValue ?? 0) }
    }
}
