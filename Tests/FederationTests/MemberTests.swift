import DeidSQL
import Federation
import Foundation
import Ledger
import SQLiteStore
import Testing

@Suite struct DecryptedViewTests {
    @Test func incrementalMaintenanceEqualsRebuild() throws {
        let p = try Population()
        try p.seed(60, seed: 1)
        try p.seed(40, seed: 2)
        try p.commit(p.portal.sign("consent.grant", ["patient": .string(p.patients[0]), "grantee": "pharmacorp", "scope": "research", "expires": .int(p.now + 10_000_000)]))
        try p.views.catchUp(p.ledger)
        let incremental = try p.views.contentDigest()
        #expect(try p.views.count("patients") == 100)
        #expect(p.views.height == p.ledger.height)
        let rebuilt = try ViewStore.rebuild(path: p.dir.appendingPathComponent("rebuilt.sqlite").path, org: "general-hospital", chain: p.genesis.chain,
                                            agreementKey: p.orgs["general-hospital"]!.agreement, ledger: p.ledger)
        #expect(try rebuilt.contentDigest() == incremental)
        // Catching up applies the blocks waiting together, in one transaction; one at a time gives the same tables.
        let oneByOne = try ViewStore(path: p.dir.appendingPathComponent("one-by-one.sqlite").path, org: "general-hospital", chain: p.genesis.chain,
                                     agreementKey: p.orgs["general-hospital"]!.agreement)
        for h in 1...p.ledger.height { try oneByOne.apply(try p.ledger.block(at: h), ledger: p.ledger) }
        #expect(try oneByOne.contentDigest() == incremental)
        // A non-reader's views hold nothing.
        let other = try ViewStore(path: p.dir.appendingPathComponent("city.sqlite").path, org: "city-medical", chain: p.genesis.chain,
                                  agreementKey: p.orgs["city-medical"]!.agreement)
        try other.catchUp(p.ledger)
        #expect(try other.count("patients") == 0)
    }

    /// An encounter without a region takes its patient's (from the first patient row by record key).
    /// The views remember regions from one group of blocks to the next: a patient row written later
    /// must change what later encounters get, and blocks applied by another store on the same file
    /// must not leave this store with regions it did not see written.
    @Test func encounterRegionsFollowPatientRowsAcrossGroups() throws {
        let p = try Population()
        try p.seed(3)
        let pid = p.patients[0]
        let gh = p.signers["general-hospital"]!
        let readers = ["general-hospital": p.orgs["general-hospital"]!.agreement.publicKeyBase64]
        func put(_ items: [RecordBatch.Item], _ ks: String) throws {
            try p.commit(gh.sign("record.put", try RecordBatch.arguments(chain: p.genesis.chain, keysetID: ks, readers: readers, writers: ["general-hospital"], items: items)))
        }
        func encounter(_ n: Int) -> RecordBatch.Item {
            .init(key: "gh/encounter/x\(n)", patient: pid, type: "Encounter", plaintext: RecordPayload.encounter(id: "X\(n)", date: "2026-09-21", kind: "ambulatory", region: nil).bytes)
        }
        func region(_ n: Int) throws -> String? {
            try p.views.database.scalar("SELECT region FROM v_encounters WHERE encounter_id = ?", [.text("X\(n)")])?.textValue
        }
        let before = try p.views.database.scalar("SELECT region FROM v_patients WHERE patient_id = ? ORDER BY record_key LIMIT 1", [.text(pid)])?.textValue
        try put([encounter(1)], "ks-r1")
        try p.views.catchUp(p.ledger)
        #expect(try region(1) == before && before != nil)
        // A patient row that sorts first ("gh/patient/" < "gh/patient/0"), in another region.
        try put([.init(key: "gh/patient/", patient: pid, type: "Patient", plaintext: RecordPayload.patient(birthDate: "1970-01-01", sex: "F", region: "ZZ-moved", zip3: "999", deceased: false).bytes)], "ks-r2")
        try p.views.catchUp(p.ledger)
        try put([encounter(2)], "ks-r3")
        try p.views.catchUp(p.ledger)
        #expect(try region(2) == "ZZ-moved")
        // Another store on the same file applies the next blocks; this one must not use what it remembered.
        let twin = try ViewStore(path: p.views.path, org: "general-hospital", chain: p.genesis.chain, agreementKey: p.orgs["general-hospital"]!.agreement)
        try put([.init(key: "gh/patient", patient: pid, type: "Patient", plaintext: RecordPayload.patient(birthDate: "1970-01-01", sex: "F", region: "ZZ-twin", zip3: "999", deceased: false).bytes)], "ks-r4")
        try twin.catchUp(p.ledger)
        try put([encounter(3)], "ks-r5")
        try p.views.catchUp(p.ledger)
        #expect(try region(3) == "ZZ-twin")
        let rebuilt = try ViewStore.rebuild(path: p.dir.appendingPathComponent("rebuilt-regions.sqlite").path, org: "general-hospital", chain: p.genesis.chain,
                                            agreementKey: p.orgs["general-hospital"]!.agreement, ledger: p.ledger)
        #expect(try rebuilt.contentDigest() == p.views.contentDigest())
    }

    @Test func aRecordThatDoesNotOpenStopsTheViewsAtTheBlockBefore() throws {
        let p = try Population()
        try p.seed(20)
        let before = p.views.height
        let pid = p.patients[0]
        var items: [RecordBatch.Item] = []
        for n in 0..<40 {
            items.append(.init(key: "gh/encounter/x\(n)", patient: pid, type: "Encounter",
                               plaintext: RecordPayload.encounter(id: "X\(n)", date: "2026-09-20", kind: "ambulatory", region: nil).bytes))
        }
        let args = try RecordBatch.arguments(chain: p.genesis.chain, keysetID: "ks-bad", readers: ["general-hospital": p.orgs["general-hospital"]!.agreement.publicKeyBase64],
                                             writers: ["general-hospital"], items: items)
        // The writer signs a ciphertext with one flipped byte in its 31st record: the ledger cannot
        // tell (it never decrypts), the reader's views must.
        var records = try #require(args["records"]?.arrayValue)
        var sealed = try #require([UInt8](base64: records[30]["sealed"]!.stringValue!))
        sealed[20] ^= 1
        records[30] = records[30].setting("sealed", .string(sealed.base64))
        try p.commit(p.signers["general-hospital"]!.sign("record.put", args.setting("records", .array(records))))
        #expect(throws: Envelope.Failure.self) { try p.views.catchUp(p.ledger) }
        #expect(p.views.height == before)
        #expect(try p.views.database.scalar("SELECT count(*) FROM v_encounters WHERE encounter_id LIKE 'X%'")?.intValue == 0)
    }

    @Test func seedCompatibleWorldStateCarriesDiagnosisCodes() throws {
        let p = try Population()
        try p.add([.init(birthDate: "1970-05-05", sex: "female", region: "north", zip3: "021", hypertension: true, betaBlocker: false, ili: true)])
        let value = try #require(try p.views.database.scalar("SELECT value FROM (\(ViewStore.worldStateSQL)) WHERE key LIKE 'record:%:encounter:%'")?.textValue)
        #expect(try JSON.parse(value)["diagnosis_codes"] == "59621000,J11.1")
    }

    /// The derived world_state rows are, byte for byte, the canonical JSON Tally writes for each
    /// record (what the views stored per record before the rows were derived), one per record and
    /// one per patient (its first record by record key).
    @Test func derivedWorldStateIsTheCanonicalJSONOfEveryRecord() throws {
        let p = try Population()
        try p.seed(120)
        let db = p.views.database
        // The population has no immunizations or claims: one of each, written straight into the
        // views, with text that needs escaping.
        let pid = try #require(try db.scalar("SELECT patient_id FROM v_patients LIMIT 1"))
        try db.prepare("INSERT INTO v_immunizations VALUES ('imm-1', ?, 'http://hl7.org/fhir/sid/cvx', '140', '2026-10-01', 'general-hospital')").run([pid])
        try db.prepare("INSERT INTO v_claims VALUES ('claim-1', 'C-1', ?, ?, '99213', '2026-10-02', 12500)").run([pid, .text("Dr \"Ö\"\tclinic\\\u{1}")])
        func s(_ v: SQLValue) -> JSON { v.textValue.map { .string($0) } ?? .null }
        var expected: [String: (JSON, String)] = [:]
        for r in try db.rows("SELECT record_key, patient_id, birth_year, sex, region, zip3 FROM v_patients ORDER BY record_key DESC") {
            // Descending, so the first record by key is the one kept.
            expected["patient:" + r[1].textValue!] = (["gender": s(r[3]), "sex": s(r[3]), "birth_year": .int(r[2].intValue!), "region": s(r[4]), "zip3": s(r[5])], r[0].textValue!)
        }
        for r in try db.rows("SELECT record_key, patient_id, encounter_id, service_date, class, site, region FROM v_encounters") {
            let codes = try db.rows("SELECT code FROM v_conditions WHERE encounter_id = ? AND patient_id = ? ORDER BY code, record_key", [r[2], r[1]])
                .map { $0[0].textValue! }.joined(separator: ",")
            expected["record:\(r[1].textValue!):encounter:\(r[0].textValue!)"] = (["record_type": "encounter", "service_date": s(r[3]), "class": s(r[4]), "site": s(r[5]),
                                                                                 "region": s(r[6]), "diagnosis_codes": .string(codes)], r[0].textValue!)
        }
        for r in try db.rows("SELECT record_key, patient_id, system, code, onset_date FROM v_conditions") {
            expected["record:\(r[1].textValue!):condition:\(r[0].textValue!)"] = (["record_type": "condition", "system": s(r[2]), "code": s(r[3]), "onset_date": s(r[4])], r[0].textValue!)
        }
        for r in try db.rows("SELECT record_key, patient_id, system, code, drug_class FROM v_medications") {
            expected["record:\(r[1].textValue!):medication:\(r[0].textValue!)"] = (["record_type": "medication", "system": s(r[2]), "code": s(r[3]), "drug_class": s(r[4])], r[0].textValue!)
        }
        for r in try db.rows("SELECT record_key, patient_id, system, code, date FROM v_immunizations") {
            expected["record:\(r[1].textValue!):immunization:\(r[0].textValue!)"] = (["record_type": "immunization", "system": s(r[2]), "code": s(r[3]), "date": s(r[4])], r[0].textValue!)
        }
        for r in try db.rows("SELECT record_key, patient_id, provider, procedure_code, service_date, amount FROM v_claims") {
            expected["record:\(r[1].textValue!):claim:\(r[0].textValue!)"] = (["record_type": "claim", "provider": s(r[2]), "procedure_code": s(r[3]), "service_date": s(r[4]),
                                                                             "amount": .int(r[5].intValue!)], r[0].textValue!)
        }
        let rows = try db.rows("SELECT key, value, patient_id, record_key FROM (\(ViewStore.worldStateSQL))")
        #expect(rows.count == expected.count)
        #expect(Set(rows.map { $0[0].textValue! }).count == rows.count, "one row per key")
        var kinds = Set<String>()
        for r in rows {
            let key = r[0].textValue!
            let e = try #require(expected[key], "unexpected key")
            #expect(r[1].textValue == e.0.canonicalString)
            #expect(r[3].textValue == e.1)
            #expect(key.hasSuffix(r[3].textValue!) || key == "patient:" + r[2].textValue!)
            kinds.insert(key.hasPrefix("patient:") ? "patient" : String(key.split(separator: ":")[2]))
        }
        #expect(kinds == ["patient", "encounter", "condition", "medication", "immunization", "claim"], "\(kinds.sorted())")
    }
}

@Suite struct MemberEvaluationTests {
    @Test func everyReleasedRowHasAtLeastKPatientsAndSmallRowsAreSuppressed() throws {
        let p = try Population()
        try p.seed(260)
        try p.policy("adhoc")
        let m = try p.member()
        let sql = "SELECT zip3, sex, region, COUNT(*) AS n FROM patients GROUP BY zip3, sex, region"
        let (r, plan) = try m.evaluate(try p.request(sql, policy: "adhoc"))
        // The same aggregate computed directly, with the rule applied by hand.
        let direct = try p.views.database.rows("SELECT zip3, sex, region, COUNT(DISTINCT patient_id) FROM v_patients GROUP BY zip3, sex, region")
        let expectedReleased = direct.filter { ($0[3].intValue ?? 0) >= 11 }
        #expect(!expectedReleased.isEmpty)
        #expect(r.rows.count == expectedReleased.count)
        #expect(r.suppressedRows == direct.count - expectedReleased.count)
        #expect(r.suppressedRows > 0, "the seed should produce some small groups")
        for row in r.rows {
            guard case .value(.integer(let pts)) = row[plan.patientsColumn] else { Issue.record("patients cell missing"); continue }
            #expect(pts >= 11)
        }
        #expect(r.isValid(signedBy: p.orgs["general-hospital"]!.signing.publicKey))
        var tampered = r
        tampered.suppressedRows += 1
        #expect(!tampered.isValid(signedBy: p.orgs["general-hospital"]!.signing.publicKey))
    }

    @Test func aCohortOfKMinusOneNeverAppearsAloneOrAsADifference() throws {
        let p = try Population()
        // Region "west": 30 people, 20 with hypertension → 10 (k−1) without.
        var people: [Population.Person] = []
        for i in 0..<30 {
            people.append(.init(birthDate: "1960-01-0\(i % 9 + 1)", sex: "female", region: "west", zip3: "999", hypertension: i < 20, betaBlocker: false, ili: false))
        }
        // Region "east": 10 people (k−1), all hypertensive.
        for i in 0..<10 {
            people.append(.init(birthDate: "1961-02-0\(i % 9 + 1)", sex: "male", region: "east", zip3: "888", hypertension: true, betaBlocker: false, ili: false))
        }
        try p.add(people)
        try p.policy("adhoc")
        let m = try p.member()
        // By itself: the east row (10 patients) is withheld.
        let (alone, _) = try m.evaluate(try p.request("SELECT region, COUNT(DISTINCT patient_id) AS n FROM patients GROUP BY region", policy: "adhoc"))
        #expect(alone.rows.count == 1)
        #expect(alone.rows[0][0] == .value(.text("west")))
        #expect(alone.suppressedRows == 1)
        // As total minus part: population 30 and 20 hypertensive would reveal 10 without; the part is withheld.
        let sql = """
        SELECT p.region, COUNT(DISTINCT p.patient_id) AS population, COUNT(DISTINCT c.patient_id) AS hypertensive
        FROM patients p LEFT JOIN conditions c ON c.patient_id = p.patient_id AND c.code IN VALUESET('hypertension')
        GROUP BY p.region
        """
        let (diff, _) = try m.evaluate(try p.request(sql, policy: "adhoc"))
        #expect(diff.rows.count == 1)
        #expect(diff.rows[0][1] == .value(.integer(30)))
        #expect(diff.rows[0][2] == .suppressed)
        for row in diff.rows {
            let released = row.compactMap { c -> Int64? in if case .value(.integer(let v)) = c { return v }; return nil }
            for a in released { for b in released where a > b { #expect(a - b >= 11 || a - b == 0) } }
        }
    }

    @Test func consentRevokedAtHeightHRemovesThePatientFromQueriesPinnedAfterH() throws {
        let p = try Population()
        try p.seed(40, seed: 7)
        let consented = Array(p.patients.prefix(12))
        var grants: [String: String] = [:]
        for pid in consented {
            let r = try p.commit(p.portal.sign("consent.grant", ["patient": .string(pid), "grantee": "pharmacorp", "scope": "trial:cardio", "expires": .int(p.now + 100_000_000)]))
            grants[pid] = r[0].result["consent"]!.stringValue!
        }
        try p.policy("trial", consent: ["scope": "trial:cardio"])
        let before = p.ledger.height
        try p.commit(p.portal.sign("consent.revoke", ["patient": .string(consented[0]), "consent": .string(grants[consented[0]]!)]))
        let revokedAt = p.ledger.height
        try p.views.catchUp(p.ledger)
        let m = try p.member()
        let sql = "SELECT COUNT(DISTINCT patient_id) AS n FROM patients"
        let (atBefore, _) = try m.evaluate(try p.request(sql, policy: "trial", height: before))
        let (atRevocation, _) = try m.evaluate(try p.request(sql, policy: "trial", height: revokedAt))
        #expect(atBefore.rows.first?[0] == .value(.integer(12)))
        #expect(atRevocation.rows.first?[0] == .value(.integer(11)))
        // Without a consent requirement the whole population is visible.
        try p.policy("surveillance", requesters: ["state-health"])
        let (all, _) = try m.evaluate(try p.request(sql, policy: "surveillance", requester: "state-health"))
        #expect(all.rows.first?[0] == .value(.integer(40)))
    }

    /// The consent filter holds inside subqueries too (EXISTS, IN (SELECT …), scalar subqueries), not
    /// only in the top-level FROM: every view read anywhere in the query is the consented one.
    @Test func consentFilterAppliesInsideSubqueries() throws {
        let p = try Population()
        try p.seed(60, seed: 11)
        let consented = Array(p.patients.prefix(15))
        for pid in consented {
            try p.commit(p.portal.sign("consent.grant", ["patient": .string(pid), "grantee": "pharmacorp", "scope": "trial:x", "expires": .int(p.now + 100_000_000)]))
        }
        try p.policy("trial-x", consent: ["scope": "trial:x"])
        try p.views.catchUp(p.ledger)
        let m = try p.member()
        // Counted through a subquery over patients: only consented patients may be seen there.
        let inSub = "SELECT COUNT(*) AS n FROM encounters e WHERE e.patient_id IN (SELECT patient_id FROM patients)"
        let exists = "SELECT COUNT(DISTINCT e.patient_id) AS n FROM encounters e WHERE EXISTS (SELECT 1 FROM patients q WHERE q.patient_id = e.patient_id)"
        let direct = try p.views.database.rows("SELECT COUNT(*), COUNT(DISTINCT patient_id) FROM v_encounters WHERE patient_id IN (\(consented.map { "'\($0)'" }.joined(separator: ",")))")[0]
        let (a, _) = try m.evaluate(try p.request(inSub, policy: "trial-x"))
        let (b, _) = try m.evaluate(try p.request(exists, policy: "trial-x"))
        #expect(a.rows.first?[0] == .value(direct[0]))
        #expect(b.rows.first?[0] == .value(direct[1]))
        #expect(b.rows.first?[0] == .value(.integer(Int64(consented.count))))
    }

    @Test func aPolicyThisOrganisationDidNotApproveIsRefused() throws {
        let p = try Population()
        try p.seed(30)
        try p.policy("only-city", approvers: ["city-medical"])
        let m = try p.member()
        #expect(throws: Refusal.notApproved(policy: "only-city", org: "general-hospital", status: "pending")) {
            try m.evaluate(try p.request("SELECT COUNT(*) FROM patients", policy: "only-city"))
        }
        #expect(throws: Refusal.unknownPolicy("nope")) { try m.evaluate(try p.request("SELECT COUNT(*) FROM patients", policy: "nope")) }
        try p.policy("pharma-only")
        #expect(throws: Refusal.requesterNotAllowed("state-health")) {
            try m.evaluate(try p.request("SELECT COUNT(*) FROM patients", policy: "pharma-only", requester: "state-health"))
        }
    }

    @Test func templatesArePinnedByHashAndParametersAreDeclaredAndBound() throws {
        let p = try Population()
        try p.seed(80, seed: 3)
        let template = "SELECT sex, COUNT(*) AS n FROM patients WHERE age BETWEEN :min_age AND :max_age GROUP BY sex"
        try p.policy("pinned", adHoc: false, templates: [template], parameters: ["min_age": "int", "max_age": "int"])
        let m = try p.member()
        let (r, _) = try m.evaluate(try p.request(template, policy: "pinned", params: ["min_age": .integer(18), "max_age": .integer(120)]))
        #expect(r.rows.count + r.suppressedRows == 2)
        #expect(throws: Refusal.templateMismatch) { try m.evaluate(try p.request(template + " ", policy: "pinned")) }
        #expect(throws: Refusal.parameter("no value given for :max_age")) {
            try m.evaluate(try p.request(template, policy: "pinned", params: ["min_age": .integer(18)]))
        }
        // A parameter value is data, never SQL: bound as text, it matches no integer age, where the
        // same text spliced into the query (`OR 1=1`) would have matched every patient.
        let (inj, _) = try m.evaluate(try p.request(template, policy: "pinned", params: ["min_age": .text("0) OR 1=1 --"), "max_age": .integer(200)]))
        #expect(inj.rows.isEmpty)
        #expect(inj.suppressedRows == 0)
    }

    @Test func theSeedsILIQueryRunsOverTheWorldStateView() throws {
        let p = try Population()
        var people: [Population.Person] = []
        for i in 0..<25 { people.append(.init(birthDate: "1980-01-01", sex: "male", region: "north", zip3: "021", hypertension: false, betaBlocker: false, ili: i < 15)) }
        try p.add(people, encounterDate: MemberService.sqlTime(p.now).prefix(10).description)
        try p.policy("ili", requesters: ["state-health"])
        let sql = try String(contentsOfFile: URL(fileURLWithPath: Population.valueSetDir).deletingLastPathComponent().appendingPathComponent("ili_surveillance_world_state.sql").path, encoding: .utf8)
        let (r, _) = try p.member().evaluate(try p.request(sql, policy: "ili", requester: "state-health"))
        #expect(r.rows.count == 1)
        #expect(r.rows.first?[2] == .value(.integer(15)))
    }
}

@Suite struct RecordPayloadTests {
    /// Every kind of payload encodes canonically (written field by field) and decodes to itself.
    @Test func everyKindRoundTripsThroughCanonicalBytes() throws {
        let all: [RecordPayload] = [
            .patient(birthDate: "1970-01-02", sex: "female", region: "north", zip3: "021", deceased: true),
            .encounter(id: "E1", date: "2026-01-01", kind: "ambulatory", region: nil),
            .encounter(id: "E2", date: "2026-01-01", kind: "emergency", region: "south"),
            .condition(encounter: nil, system: "http://snomed.info/sct", code: "1", onset: "2020-01-01"),
            .medication(system: "rx", code: "2", drugClass: "beta-blocker", start: nil, end: "2021-01-01"),
            .immunization(system: "cvx", code: "140", date: "2026-10-01"),
            .claim(id: "C1", provider: "gh", procedureCode: "99213", serviceDate: "2026-01-01", amountCents: 12_345),
        ]
        for p in all {
            #expect(try JSON.parse(p.bytes).canonicalBytes == p.bytes)
            #expect(try JSON.parse(p.bytes) == p.json)
            #expect(try RecordPayload(bytes: p.bytes) == p)
        }
    }

    /// Payloads are read field by field when they are canonical and flat. Whenever that reader
    /// answers, it must give the general parser's fields; on seeded payloads with awkward text it
    /// must answer, and on damaged or reshaped copies (white space, keys out of order or repeated,
    /// nesting, truncation) decoding must still give the general path's verdict.
    @Test func fieldByFieldReadingAgreesWithTheGeneralParser() throws {
        var rng = SeededGenerator(seed: 20261202)
        let texts = ["", "a", "é", "q\"uote", "back\\slash", "tab\t", "\u{1}", "😀", "2026-01-01", "{\"x\":1}"]
        func text() -> String { texts.randomElement(using: &rng)! + String(Int.random(in: 0...99, using: &rng)) }
        func maybe() -> String? { Bool.random(using: &rng) ? nil : text() }
        func payload() -> RecordPayload {
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: return .patient(birthDate: text(), sex: text(), region: text(), zip3: text(), deceased: Bool.random(using: &rng))
            case 1: return .encounter(id: text(), date: text(), kind: text(), region: maybe())
            case 2: return .condition(encounter: maybe(), system: text(), code: text(), onset: maybe())
            case 3: return .medication(system: text(), code: text(), drugClass: maybe(), start: maybe(), end: maybe())
            case 4: return .immunization(system: text(), code: text(), date: text())
            default: return .claim(id: text(), provider: text(), procedureCode: text(), serviceDate: text(), amountCents: Int64.random(in: -1_000...1_000_000, using: &rng))
            }
        }
        func general(_ b: [UInt8]) -> RecordPayload? {
            guard let j = try? JSON.parse(b), case .object = j else { return nil }
            return try? RecordPayload(bytes: j.canonicalBytes) // re-encoded canonically: the same fields
        }
        var answered = 0, reshaped = 0
        for _ in 0..<2_000 {
            let p = payload()
            let flat = try #require(JSON.canonicalFlatObject(p.bytes))
            #expect(JSON.object(Dictionary(uniqueKeysWithValues: flat.map { ($0.key, $0.value) })) == (try JSON.parse(p.bytes)))
            #expect(try RecordPayload(bytes: p.bytes) == p)
            answered += 1
            var b = p.bytes
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: b.insert(0x20, at: Int.random(in: 0...b.count, using: &rng))
            case 1: b = Array(#"{"z":1,"#.utf8) + b.dropFirst()
            case 2: b = Array(#"{"aa":[1],"#.utf8) + b.dropFirst()
            case 3: b = Array(b.prefix(Int.random(in: 0..<b.count, using: &rng)))
            default: b = Array(#"{"amount":{"n":1},"#.utf8) + b.dropFirst()
            }
            if let f = JSON.canonicalFlatObject(b) {
                #expect(JSON.object(Dictionary(uniqueKeysWithValues: f.map { ($0.key, $0.value) })) == (try JSON.parse(b)))
            } else {
                reshaped += 1
            }
            #expect((try? RecordPayload(bytes: b)) == general(b))
        }
        #expect(answered == 2_000 && reshaped > 1_000)
    }
}
