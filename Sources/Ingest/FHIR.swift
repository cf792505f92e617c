import Federation
import Foundation
import Ledger

/// Why one line of an export was set aside.
public struct Quarantined: Sendable, Equatable {
    public var file: String
    public var line: Int
    public var reason: String
}

/// One resource read from a bulk export and mapped to a record payload.
public struct MappedResource: Sendable {
    public var type: String
    public var id: String
    public var version: String
    /// The FHIR id of the patient it belongs to.
    public var patientRef: String
    public var payload: [UInt8]
    public var file: String
    public var line: Int
}

/// The patient identity facts ingest needs (never written to the ledger in clear).
public struct PatientFacts: Sendable {
    public var fhirID: String
    public var identifierSystem: String
    public var identifier: String
    public var family: String
    public var given: String
    public var birthDate: String
}

/// Maps FHIR R4 resources (as Synthea and EHR bulk exports write them) to Tally record payloads.
/// Only the fields the views need are kept; names, addresses and identifiers stay out of the records.
public enum FHIRMapper {
    public static let readTypes: Set<String> = ["Patient", "Encounter", "Condition", "MedicationRequest", "Medication", "Procedure", "Immunization", "Observation", "Consent"]

    struct Failure: Error { let reason: String }

    static func str(_ o: FHIRJSON?, _ k: String) -> String? { o?[k]?.string }
    static func obj(_ o: FHIRJSON?, _ k: String) -> FHIRJSON? { o?[k].flatMap { $0.isObject ? $0 : nil } }
    static func arr(_ o: FHIRJSON?, _ k: String) -> [FHIRJSON] { o?[k]?.array.filter(\.isObject) ?? [] }

    /// `Patient/abc` → `abc` (also accepts `urn:uuid:abc`).
    static func ref(_ o: FHIRJSON?, expect type: String) throws -> String {
        guard let r = str(o, "reference"), !r.isEmpty else { throw Failure(reason: "missing \(type) reference") }
        if r.hasPrefix("\(type)/") { return String(r.dropFirst(type.count + 1)) }
        if r.hasPrefix("urn:uuid:") { return String(r.dropFirst(9)) }
        throw Failure(reason: "a reference that should name a \(type) names something else")
    }

    /// A research consent as the ledger records it (`consent.grant`).
    struct ConsentFacts {
        var patientRef: String
        var grantee: String
        var scope: String
        var expires: Int64
    }

    /// FHIR R4 Consent → `consent.grant`. Read: `status` (only `active` grants; others are counted, not
    /// loaded), `patient`, `provision.type` = `permit`, the grantee as `provision.actor[].reference`
    /// `Organization/<member id>`, the scope from `policy[].uri` `urn:tally:scope:<scope>` (else
    /// `research` when `provision.purpose` has `HRESCH`), and `provision.period.end` (consents are
    /// time-bound). Returns nil for a valid Consent that grants nothing (not active).
    static func consent(_ o: FHIRJSON) throws -> ConsentFacts? {
        guard let status = str(o, "status") else { throw Failure(reason: "Consent without status") }
        let patient = try ref(obj(o, "patient"), expect: "Patient")
        guard status == "active" else { return nil }
        guard let provision = obj(o, "provision"), str(provision, "type") == "permit" else {
            throw Failure(reason: "Consent without a permit provision")
        }
        let actors = arr(provision, "actor").compactMap { str(obj($0, "reference"), "reference") }.filter { $0.hasPrefix("Organization/") }
        guard actors.count == 1, let grantee = actors.first.map({ String($0.dropFirst(13)) }), Member.isValidID(grantee) else {
            throw Failure(reason: "Consent must name exactly one Organization/<member id> actor")
        }
        var scope: String?
        for p in arr(o, "policy") { if let u = str(p, "uri"), u.hasPrefix("urn:tally:scope:") { scope = String(u.dropFirst(16)) } }
        if scope == nil, arr(provision, "purpose").contains(where: { str($0, "code") == "HRESCH" }) { scope = "research" }
        guard let scope, ConsentScope.isValid(scope) else { throw Failure(reason: "Consent scope missing or unknown (urn:tally:scope:<scope> or purpose HRESCH)") }
        guard let end = date(str(obj(provision, "period"), "end")), let expires = endOfDayMillis(end) else {
            throw Failure(reason: "Consent without provision.period.end")
        }
        return ConsentFacts(patientRef: patient, grantee: grantee, scope: scope, expires: expires)
    }

    /// `YYYY-MM-DD` → the last millisecond of that day, UTC.
    static func endOfDayMillis(_ day: String) -> Int64? {
        let p = day.split(separator: "-").compactMap { Int($0) }
        guard p.count == 3, (1...12).contains(p[1]), (1...31).contains(p[2]), (1900...9999).contains(p[0]) else { return nil }
        var t = tm()
        t.tm_year = Int32(p[0] - 1900); t.tm_mon = Int32(p[1] - 1); t.tm_mday = Int32(p[2]); t.tm_hour = 23; t.tm_min = 59; t.tm_sec = 59
        return Int64(timegm(&t)) * 1000 + 999
    }

    static func date(_ s: String?) -> String? {
        guard let s, s.count >= 10 else { return nil }
        return String(s.prefix(10))
    }

    static func coding(_ cc: FHIRJSON?) throws -> (String, String) {
        guard let c = cc?["coding"]?.first, let system = str(c, "system"), let code = str(c, "code") else {
            throw Failure(reason: "missing coding")
        }
        return (system, code)
    }

    static let encounterClass = ["AMB": "ambulatory", "EMER": "emergency", "IMP": "inpatient", "ACUTE": "inpatient", "NONAC": "inpatient",
                                 "OBSENC": "observation", "PRENC": "pre-admission", "SS": "short-stay", "VR": "virtual", "HH": "home-health"]

    /// Parses one NDJSON line. Returns the resource type and JSON object, or throws with a reason.
    static func parseLine(_ line: Substring) throws -> (String, FHIRJSON) {
        guard let o = try? FHIRJSON(parsing: Array(line.utf8)), o.isObject else {
            throw Failure(reason: "not a JSON object")
        }
        guard let type = str(o, "resourceType") else { throw Failure(reason: "missing resourceType") }
        guard let id = str(o, "id"), !id.isEmpty else { throw Failure(reason: "missing id") }
        return (type, o)
    }

    static func patientFacts(_ o: FHIRJSON) throws -> (PatientFacts, RecordPayload) {
        let id = str(o, "id")!
        guard let birth = date(str(o, "birthDate")) else { throw Failure(reason: "Patient without birthDate") }
        // Prefer a national identifier (SSN), then the medical record number.
        let ids = arr(o, "identifier")
        func find(_ pred: (FHIRJSON) -> Bool) -> (String, String)? {
            for i in ids where pred(i) { if let s = str(i, "system"), let v = str(i, "value") { return (s, v) } }
            return nil
        }
        let chosen = find { str($0, "system") == "http://hl7.org/fhir/sid/us-ssn" }
            ?? find { str(obj($0, "type")?["coding"]?.first, "code") == "MR" }
            ?? find { _ in true }
        guard let (system, value) = chosen else { throw Failure(reason: "Patient without identifier") }
        let name = arr(o, "name").first
        let family = str(name, "family") ?? ""
        let given = name?["given"]?.first?.string ?? ""
        let address = arr(o, "address").first
        let region = (str(address, "state") ?? "unknown").lowercased()
        let postal = str(address, "postalCode") ?? ""
        let zip3 = postal.count >= 3 ? String(postal.prefix(3)) : "000"
        let sex = str(o, "gender") ?? "unknown"
        let deceased = o["deceasedDateTime"] != nil || (o["deceasedBoolean"]?.bool ?? false)
        return (PatientFacts(fhirID: id, identifierSystem: system, identifier: value, family: family, given: given, birthDate: birth),
                .patient(birthDate: birth, sex: sex, region: region, zip3: zip3, deceased: deceased))
    }

    /// Maps a non-Patient resource. `medications` resolves MedicationRequest.medicationReference.
    /// `serviceDate` is an Encounter's date of service (YYYY-MM-DD), for its service commitment.
    static func map(_ type: String, _ o: FHIRJSON, medications: [String: (String, String)]) throws -> (patient: String, payload: [UInt8], serviceDate: String?) {
        switch type {
        case "Encounter":
            let p = try ref(obj(o, "subject"), expect: "Patient")
            guard let start = date(str(obj(o, "period"), "start")) else { throw Failure(reason: "Encounter without period.start") }
            let cls = str(obj(o, "class"), "code").map { encounterClass[$0] ?? $0.lowercased() } ?? "unknown"
            return (p, RecordPayload.encounter(id: str(o, "id")!, date: start, kind: cls, region: nil).bytes, start)
        case "Condition":
            let p = try ref(obj(o, "subject"), expect: "Patient")
            let (system, code) = try coding(obj(o, "code"))
            let enc = obj(o, "encounter") != nil ? try ref(obj(o, "encounter"), expect: "Encounter") : nil
            return (p, RecordPayload.condition(encounter: enc, system: system, code: code, onset: date(str(o, "onsetDateTime") ?? str(o, "recordedDate"))).bytes, nil)
        case "MedicationRequest":
            let p = try ref(obj(o, "subject"), expect: "Patient")
            var sc: (String, String)
            if let cc = obj(o, "medicationCodeableConcept") {
                sc = try coding(cc)
            } else {
                let mid = try ref(obj(o, "medicationReference"), expect: "Medication")
                guard let m = medications[mid] else { throw Failure(reason: "broken reference: the Medication is not in the export") }
                sc = m
            }
            let status = str(o, "status") ?? ""
            let start = date(str(o, "authoredOn"))
            let end = ["stopped", "completed", "cancelled"].contains(status) ? start : nil
            return (p, RecordPayload.medication(system: sc.0, code: sc.1, drugClass: nil, start: start, end: end).bytes, nil)
        case "Immunization":
            let p = try ref(obj(o, "patient"), expect: "Patient")
            let (system, code) = try coding(obj(o, "vaccineCode"))
            guard let d = date(str(o, "occurrenceDateTime")) else { throw Failure(reason: "Immunization without occurrenceDateTime") }
            return (p, RecordPayload.immunization(system: system, code: code, date: d).bytes, nil)
        case "Procedure", "Observation":
            let p = try ref(obj(o, "subject"), expect: "Patient")
            let (system, code) = try coding(obj(o, "code"))
            let d = date(str(o, "performedDateTime") ?? str(obj(o, "performedPeriod"), "start") ?? str(o, "effectiveDateTime"))
            // Kept as sealed records; no view reads them yet.
            let doc: JSON = ["resourceType": .string(type), "system": .string(system), "code": .string(code), "date": d.map { .string($0) } ?? .null]
            return (p, doc.canonicalBytes, nil)
        default:
            throw Failure(reason: "resource type \(type) is not ingested")
        }
    }
}
