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

    public var json: JSON {
        func opt(_ s: String?) -> JSON { s.map { .string($0) } ?? .null }
        switch self {
        case .patient(let b, let s, let r, let z, let d):
            return ["resourceType": "Patient", "birth_date": .string(b), "sex": .string(s), "region": .string(r), "zip3": .string(z), "deceased": .bool(d)]
        case .encounter(let id, let date, let kind, let region):
            return ["resourceType": "Encounter", "id": .string(id), "date": .string(date), "class": .string(kind), "region": opt(region)]
        case .condition(let e, let sys, let code, let onset):
            return ["resourceType": "Condition", "encounter": opt(e), "system": .string(sys), "code": .string(code), "onset": opt(onset)]
        case .medication(let sys, let code, let cls, let start, let end):
            return ["resourceType": "MedicationRequest", "system": .string(sys), "code": .string(code), "drug_class": opt(cls), "start": opt(start), "end": opt(end)]
        case .immunization(let sys, let code, let date):
            return ["resourceType": "Immunization", "system": .string(sys), "code": .string(code), "date": .string(date)]
        case .claim(let id, let provider, let proc, let date, let amount):
            return ["resourceType": "Claim", "id": .string(id), "provider": .string(provider), "procedure_code": .string(proc), "service_date": .string(date), "amount": .int(amount)]
        }
    }

    public var bytes: [UInt8] { json.canonicalBytes }

    public struct DecodeError: Error, CustomStringConvertible { public let description: String }

    public init(bytes: [UInt8]) throws {
        let j: JSON
        do { j = try JSON.parse(bytes) } catch { throw DecodeError(description: "record payload is not canonical JSON") }
        func s(_ k: String) throws -> String {
            guard let v = j[k]?.stringValue else { throw DecodeError(description: "record payload lacks \(k)") }
            return v
        }
        func o(_ k: String) -> String? { j[k]?.stringValue }
        switch j["resourceType"]?.stringValue {
        case "Patient": self = .patient(birthDate: try s("birth_date"), sex: try s("sex"), region: try s("region"), zip3: try s("zip3"), deceased: j["deceased"]?.boolValue ?? false)
        case "Encounter": self = .encounter(id: try s("id"), date: try s("date"), kind: try s("class"), region: o("region"))
        case "Condition": self = .condition(encounter: o("encounter"), system: try s("system"), code: try s("code"), onset: o("onset"))
        case "MedicationRequest": self = .medication(system: try s("system"), code: try s("code"), drugClass: o("drug_class"), start: o("start"), end: o("end"))
        case "Immunization": self = .immunization(system: try s("system"), code: try s("code"), date: try s("date"))
        case "Claim":
            guard let amount = j["amount"]?.intValue else { throw DecodeError(description: "claim lacks amount") }
            self = .claim(id: try s("id"), provider: try s("provider"), procedureCode: try s("procedure_code"), serviceDate: try s("service_date"), amountCents: amount)
        default: throw DecodeError(description: "unknown record type")
        }
    }
}
