import Ledger

/// The plaintext inside a sealed clinical record: one FHIR-derived fact, already reduced to the
/// fields the views need. Ingest writes these; the member's views read them.
public enum RecordPayload: Equatable, Sendable {
    case patient(birthDate: String, sex: String, region: String, zip3: String, deceased: Bool)
    case encounter(id: String, date: String, kind: String, region: String?)
    case condition(encounter: String?, system: String, code: String, onset: String?)
    case medication(system: String, code: String, drugClass: String?, start: String?, end: String?)
    case immunization(system: String, code: String, date: String)
    case claim(id: String, provider: String, procedureCode: String, serviceDate: String, amountCents: Int64)

    public var type: String {
        switch self {
        case .patient: return "Patient"
        case .encounter: return "Encounter"
        case .condition: return "Condition"
        case .medication: return "MedicationRequest"
        case .immunization: return "Immunization"
        case .claim: return "Claim"
        }
    }

    /// The payload's fields in canonical key order.
    var fields: [(String, JSON)] {
        func opt(_ s: String?) -> JSON { s.map { .string($0) } ?? .null }
        switch self {
        case .patient(let b, let s, let r, let z, let d):
            return [("birth_date", .string(b)), ("deceased", .bool(d)), ("region", .string(r)), ("resourceType", "Patient"), ("sex", .string(s)), ("zip3", .string(z))]
        case .encounter(let id, let date, let kind, let region):
            return [("class", .string(kind)), ("date", .string(date)), ("id", .string(id)), ("region", opt(region)), ("resourceType", "Encounter")]
        case .condition(let e, let sys, let code, let onset):
            return [("code", .string(code)), ("encounter", opt(e)), ("onset", opt(onset)), ("resourceType", "Condition"), ("system", .string(sys))]
        case .medication(let sys, let code, let cls, let start, let end):
            return [("code", .string(code)), ("drug_class", opt(cls)), ("end", opt(end)), ("resourceType", "MedicationRequest"), ("start", opt(start)), ("system", .string(sys))]
        case .immunization(let sys, let code, let date):
            return [("code", .string(code)), ("date", .string(date)), ("resourceType", "Immunization"), ("system", .string(sys))]
        case .claim(let id, let provider, let proc, let date, let amount):
            return [("amount", .int(amount)), ("id", .string(id)), ("procedure_code", .string(proc)), ("provider", .string(provider)), ("resourceType", "Claim"), ("service_date", .string(date))]
        }
    }

    public var json: JSON { .object(Dictionary(uniqueKeysWithValues: fields)) }

    /// The canonical encoding, written field by field (ingest makes one per resource).
    public var bytes: [UInt8] {
        var o = CanonicalObject(capacity: 160)
        for (k, v) in fields { o.field(k, v) }
        return o.bytes
    }

    public struct DecodeError: Error, CustomStringConvertible { public let description: String }

    public init(bytes: [UInt8]) throws {
        // Payloads are written canonical and flat: read field by field, without a dictionary (the
        // views decode one per record). Anything else is parsed in full; both look fields up alike.
        let field: (String) -> JSON?
        if let flat = JSON.canonicalFlatObject(bytes) {
            field = { k in flat.first { $0.key == k }?.value }
        } else {
            let j: JSON
            do { j = try JSON.parse(bytes) } catch { throw DecodeError(description: "record payload is not canonical JSON") }
            field = { j[$0] }
        }
        func s(_ k: String) throws -> String {
            guard let v = field(k)?.stringValue else { throw DecodeError(description: "record payload lacks \(k)") }
            return v
        }
        func o(_ k: String) -> String? { field(k)?.stringValue }
        switch field("resourceType")?.stringValue {
        case "Patient": self = .patient(birthDate: try s("birth_date"), sex: try s("sex"), region: try s("region"), zip3: try s("zip3"), deceased: field("deceased")?.boolValue ?? false)
        case "Encounter": self = .encounter(id: try s("id"), date: try s("date"), kind: try s("class"), region: o("region"))
        case "Condition": self = .condition(encounter: o("encounter"), system: try s("system"), code: try s("code"), onset: o("onset"))
        case "MedicationRequest": self = .medication(system: try s("system"), code: try s("code"), drugClass: o("drug_class"), start: o("start"), end: o("end"))
        case "Immunization": self = .immunization(system: try s("system"), code: try s("code"), date: try s("date"))
        case "Claim":
            guard let amount = field("amount")?.intValue else { throw DecodeError(description: "claim lacks amount") }
            self = .claim(id: try s("id"), provider: try s("provider"), procedureCode: try s("procedure_code"), serviceDate: try s("service_date"), amountCents: amount)
        default: throw DecodeError(description: "unknown record type")
        }
    }
}
