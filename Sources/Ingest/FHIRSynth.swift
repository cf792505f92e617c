import Federation
import Foundation
import Ledger

/// Writes a seeded synthetic population as FHIR R4 bulk NDJSON, one folder per site, the way an EHR's
/// `$export` would: Patient, Encounter, Condition, MedicationRequest, and Consent (research consents
/// to a named trial's sponsor for a share of patients). A share of patients is seen at two sites
/// (same national identifier, so the same consortium pseudonym). Same seed, same bytes.
public enum FHIRSynth {
    public struct Summary: Sendable {
        public var files: [String] = []
        public var resources: [String: Int] = [:]
    }

    static func json(_ o: Any) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }

    static let classCode = ["ambulatory": "AMB", "emergency": "EMER", "inpatient": "IMP", "wellness": "AMB", "virtual": "VR"]
    static let states = ["north": "MA", "south": "GA", "east": "NY", "west": "CA"]
    static let zips = ["021": "02139", "022": "02215", "100": "10027", "104": "10467", "606": "60614", "946": "94609"]

    /// A named trial whose sponsor some patients consent to (FHIR Consent, research, one year).
    public struct Trial: Sendable {
        public var id: String
        public var sponsor: String
        /// The share of each site's patients who consent.
        public var share: Double
        public init(id: String = "cardio-2026", sponsor: String = "pharmacorp", share: Double = 0.3) {
            self.id = id
            self.sponsor = sponsor
            self.share = share
        }
    }

    public static func write(patients count: Int, sites: [String], seed: UInt64, today: String, overlap: Double = 0.1,
                             trial: Trial? = Trial(), to dir: String) throws -> Summary {
        let consentEnd: String = {
            let p = today.split(separator: "-").compactMap { Int($0) }
            return p.count == 3 ? String(format: "%04d-%02d-%02d", p[0] + 1, p[1], min(p[2], 28)) : today
        }()
        var summary = Summary()
        var shared: [(Int, SyntheticPopulation.Patient)] = [] // patients a later site also sees
        var nextNational = 0
        for (s, site) in sites.enumerated() {
            let siteDir = (dir as NSString).appendingPathComponent(site)
            try FileManager.default.createDirectory(atPath: siteDir, withIntermediateDirectories: true)
            let perSite = count / max(sites.count, 1)
            var people = SyntheticPopulation(seed: seed &+ UInt64(s), today: today).patients(perSite, site: site)
            var national: [Int] = []
            var rng = SeededGenerator(seed: seed ^ 0xA5A5 ^ UInt64(s))
            for i in people.indices {
                if s > 0, !shared.isEmpty, Double.random(in: 0..<1, using: &rng) < overlap {
                    // The same person, seen again at this site.
                    let (nat, p) = shared.randomElement(using: &rng)!
                    people[i].identifier = p.identifier
                    people[i].family = p.family
                    people[i].birthDate = p.birthDate
                    national.append(nat)
                } else {
                    national.append(nextNational)
                    nextNational += 1
                }
            }
            var out: [String: [String]] = ["Patient": [], "Encounter": [], "Condition": [], "MedicationRequest": []]
            if trial != nil { out["Consent"] = [] }
            // Its own stream, so adding consents leaves every other resource's bytes as they were.
            var consentRNG = SeededGenerator(seed: seed ^ 0xC0_5E47 ^ UInt64(s))
            for (i, person) in people.enumerated() {
                let pid = "\(site)-p\(i)"
                var birth = person.birthDate, sex = "unknown", state = "MA", postal = "02139"
                for item in person.records where item.type == "Patient" {
                    if case .patient(let b, let sx, let r, let z, _)? = try? RecordPayload(bytes: item.plaintext) {
                        birth = b; sex = sx; state = states[r] ?? "MA"; postal = zips[z] ?? "02139"
                    }
                }
                if s > 0, national[i] < nextNational, person.birthDate != birth { birth = person.birthDate }
                let ssn = String(format: "999-%02d-%04d", (national[i] / 10000) % 100, national[i] % 10000)
                out["Patient"]!.append(json([
                    "resourceType": "Patient", "id": pid, "gender": sex, "birthDate": birth,
                    "identifier": [["system": "http://hl7.org/fhir/sid/us-ssn", "value": ssn],
                                   ["system": "urn:\(site):mrn", "type": ["coding": [["code": "MR"]]], "value": "MRN\(i)"]],
                    "name": [["family": person.family, "given": ["Synth"]]],
                    "address": [["state": state, "postalCode": postal]],
                ]))
                for item in person.records where item.type != "Patient" {
                    guard let payload = try? RecordPayload(bytes: item.plaintext) else { continue }
                    let rid = item.key.split(separator: "/").last.map(String.init) ?? item.key
                    switch payload {
                    case .encounter(let id, let date, let kind, _):
                        out["Encounter"]!.append(json(["resourceType": "Encounter", "id": "\(site)-\(id)", "status": "finished",
                                                       "class": ["system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": classCode[kind] ?? "AMB"],
                                                       "subject": ["reference": "Patient/\(pid)"], "period": ["start": date + "T09:00:00Z", "end": date + "T10:00:00Z"]]))
                    case .condition(let enc, let system, let code, let onset):
                        var c: [String: Any] = ["resourceType": "Condition", "id": "\(site)-c\(rid)", "subject": ["reference": "Patient/\(pid)"],
                                                "code": ["coding": [["system": system, "code": code]]]]
                        if let enc { c["encounter"] = ["reference": "Encounter/\(site)-\(enc)"] }
                        if let onset { c["onsetDateTime"] = onset + "T09:00:00Z" }
                        out["Condition"]!.append(json(c))
                    case .medication(let system, let code, _, let start, _):
                        var m: [String: Any] = ["resourceType": "MedicationRequest", "id": "\(site)-m\(rid)", "status": "active", "intent": "order",
                                                "subject": ["reference": "Patient/\(pid)"], "medicationCodeableConcept": ["coding": [["system": system, "code": code]]]]
                        if let start { m["authoredOn"] = start + "T09:00:00Z" }
                        out["MedicationRequest"]!.append(json(m))
                    default: break
                    }
                }
                if let trial, Double.random(in: 0..<1, using: &consentRNG) < trial.share {
                    out["Consent"]!.append(json([
                        "resourceType": "Consent", "id": "\(site)-consent\(i)", "status": "active",
                        "scope": ["coding": [["system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"]]],
                        "category": [["coding": [["system": "http://loinc.org", "code": "57016-8"]]]],
                        "patient": ["reference": "Patient/\(pid)"], "dateTime": today + "T09:00:00Z",
                        "policy": [["uri": "urn:tally:scope:trial:\(trial.id)"]],
                        "provision": ["type": "permit", "period": ["start": today, "end": consentEnd],
                                      "actor": [["role": ["coding": [["system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"]]],
                                                 "reference": ["reference": "Organization/\(trial.sponsor)"]]],
                                      "purpose": [["system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HRESCH"]]],
                    ]))
                }
                if s == 0 && Double.random(in: 0..<1, using: &rng) < 0.5 { shared.append((national[i], person)) }
            }
            for (type, lines) in out.sorted(by: { $0.key < $1.key }) {
                let path = (siteDir as NSString).appendingPathComponent("\(type).000.ndjson")
                try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
                summary.files.append(path)
                summary.resources[type, default: 0] += lines.count
            }
        }
        return summary
    }
}

