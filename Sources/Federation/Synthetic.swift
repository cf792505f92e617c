import DeidSQL
import Ledger

/// A seeded synthetic population at the level of record payloads: plausible ages and sexes,
/// hypertension rising with age, beta blockers for some hypertensives, diabetes, seasonal
/// influenza-like illness with regional waves. Same seed, same records.
public struct SyntheticPopulation {
    public struct Patient {
        public var localID: String
        public var identifier: String
        public var family: String
        public var birthDate: String
        public var records: [RecordBatch.Item]
    }

    public static let regions = ["north", "south", "east", "west"]
    public static let zip3s = ["021", "022", "100", "104", "606", "946"]

    public var seed: UInt64
    /// The day ILI encounters cluster before (YYYY-MM-DD).
    public var today: String

    public init(seed: UInt64, today: String) {
        self.seed = seed
        self.today = today
    }


    public static func day(_ today: String, minus days: Int) -> String {
        // Civil-date arithmetic without Foundation calendars (deterministic everywhere).
        let parts = today.split(separator: "-").compactMap { Int($0) }
        var (y, m, d) = (parts[0], parts[1], parts[2])
        var n = days
        func daysIn(_ y: Int, _ m: Int) -> Int {
            [31, (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
        }
        while n > 0 {
            d -= 1
            if d == 0 {
                m -= 1
                if m == 0 { m = 12; y -= 1 }
                d = daysIn(y, m)
            }
            n -= 1
        }
        return String(format: "%04d-%02d-%02d", y, m, d)
    }

    /// Generates `count` patients for `site`, their keys prefixed by the site.
    public func patients(_ count: Int, site: String) -> [Patient] {
        var rng = SeededGenerator(seed: seed ^ UInt64(truncatingIfNeeded: site.hashValueStable))
        let year = Int(today.prefix(4)) ?? 2026
        var out: [Patient] = []
        for n in 0..<count {
            // Ages: roughly uniform 0–90 with a thinner tail.
            let age = min(Int.random(in: 0...75, using: &rng) + Int.random(in: 0...20, using: &rng), 100)
            let birth = String(format: "%04d-%02d-%02d", year - age, Int.random(in: 1...12, using: &rng), Int.random(in: 1...28, using: &rng))
            let sex = Bool.random(using: &rng) ? "female" : "male"
            let region = Self.regions.randomElement(using: &rng)!
            let zip3 = Self.zip3s.randomElement(using: &rng)!
            let id = "\(site)-\(n)"
            var items: [RecordBatch.Item] = []
            let pkey = "\(site)/patient/\(n)"
            items.append(.init(key: pkey, patient: "", type: "Patient",
                               plaintext: RecordPayload.patient(birthDate: birth, sex: sex, region: region, zip3: zip3, deceased: false).bytes))
            let visits = Int.random(in: 1...4, using: &rng)
            var encounterIDs: [String] = []
            for v in 0..<visits {
                let eid = "E\(n)-\(v)"
                encounterIDs.append(eid)
                let date = Self.day(today, minus: Int.random(in: 0...364, using: &rng))
                items.append(.init(key: "\(site)/encounter/\(n)-\(v)", patient: "", type: "Encounter",
                                   plaintext: RecordPayload.encounter(id: eid, date: date, kind: ["ambulatory", "emergency", "inpatient", "wellness"].randomElement(using: &rng)!, region: region).bytes, serviceDate: date))
            }
            let hypertensive = Double.random(in: 0..<1, using: &rng) < min(0.7, Double(max(age - 20, 0)) / 90)
            if hypertensive {
                items.append(.init(key: "\(site)/condition/\(n)-htn", patient: "", type: "Condition",
                                   plaintext: RecordPayload.condition(encounter: encounterIDs[0], system: CodeSystem.snomed, code: "59621000", onset: Self.day(today, minus: 400 + n % 2000)).bytes))
                if Double.random(in: 0..<1, using: &rng) < 0.35 {
                    items.append(.init(key: "\(site)/medication/\(n)-bb", patient: "", type: "MedicationRequest",
                                       plaintext: RecordPayload.medication(system: CodeSystem.rxnorm, code: "866412", drugClass: "beta-blocker", start: Self.day(today, minus: 300), end: nil).bytes))
                } else {
                    items.append(.init(key: "\(site)/medication/\(n)-acei", patient: "", type: "MedicationRequest",
                                       plaintext: RecordPayload.medication(system: CodeSystem.rxnorm, code: "314076", drugClass: "ace-inhibitor", start: Self.day(today, minus: 300), end: nil).bytes))
                }
            }
            if Double.random(in: 0..<1, using: &rng) < min(0.25, Double(age) / 300) {
                items.append(.init(key: "\(site)/condition/\(n)-dm", patient: "", type: "Condition",
                                   plaintext: RecordPayload.condition(encounter: encounterIDs.last, system: CodeSystem.snomed, code: "44054006", onset: Self.day(today, minus: 900)).bytes))
            }
            // Influenza-like illness in the last week, in a wave that is strongest in the north.
            let wave = ["north": 0.16, "east": 0.10, "south": 0.06, "west": 0.03][region] ?? 0.05
            if Double.random(in: 0..<1, using: &rng) < wave {
                let eid = "E\(n)-ili"
                let date = Self.day(today, minus: Int.random(in: 0...6, using: &rng))
                items.append(.init(key: "\(site)/encounter/\(n)-ili", patient: "", type: "Encounter",
                                   plaintext: RecordPayload.encounter(id: eid, date: date, kind: "ambulatory", region: region).bytes))
                items.append(.init(key: "\(site)/condition/\(n)-ili", patient: "", type: "Condition",
                                   plaintext: RecordPayload.condition(encounter: eid, system: "http://hl7.org/fhir/sid/icd-10-cm", code: "J11.1", onset: date).bytes))
            }
            out.append(Patient(localID: id, identifier: "MRN-\(site)-\(n)", family: "Family\(n)", birthDate: birth, records: items))
        }
        return out
    }
}

extension String {
    /// A hash that is the same in every process (Swift's `hashValue` is seeded per process).
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
