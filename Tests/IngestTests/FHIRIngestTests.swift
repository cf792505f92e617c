import DeidSQL
import Federation
import Foundation
import Ingest
import Ledger
import SQLiteStore
import Testing

final class IngestFixture {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/data/fhir-r4-synthea-10").path
    static let valueSetDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Queries/valuesets").path

    let dir: URL
    let keys = OrganisationKeys(org: "general-hospital")
    let genesis: Genesis
    let ledger: Ledger
    let views: ViewStore
    var now: Int64 = 1_790_000_000_000

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tally-ingest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var params = ConsortiumParams()
        params.maxTransactionBytes = 8 << 20
        let sponsor = OrganisationKeys(org: "pharmacorp")
        genesis = Genesis(chain: "ingest-test", time: now, params: params, members: [
            Member(id: "general-hospital", name: "GH", kind: .hospital, signingKey: keys.signing.publicKey.base64, encryptionKey: keys.agreement.publicKeyBase64),
            Member(id: "pharmacorp", name: "PC", kind: .pharma, signingKey: sponsor.signing.publicKey.base64, encryptionKey: sponsor.agreement.publicKeyBase64),
        ])
        ledger = try Ledger.create(path: dir.appendingPathComponent("ledger.sqlite").path, genesis: genesis)
        views = try ViewStore(path: dir.appendingPathComponent("views.sqlite").path, org: "general-hospital", chain: genesis.chain, agreementKey: keys.agreement)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    /// A data steward of the hospital, enrolled on the ledger, who records consents.
    lazy var steward: TransactionSigner? = {
        let key = SigningKey()
        let org = TransactionSigner(chain: genesis.chain, identity: "general-hospital", key: keys.signing, firstNonce: (try? ledger.nextNonce(for: "general-hospital")) ?? 0)
        now += 1000
        let out = try? ledger.submit([org.sign("identity.enroll", ["name": "steward", "role": "data-steward", "key": .string(key.publicKey.base64)])],
                                     proposer: keys, time: now)
        guard out?.first?.receipt != nil else { return nil }
        return TransactionSigner(chain: genesis.chain, identity: "general-hospital/steward", key: key, firstNonce: 0)
    }()

    func ingest(_ paths: [String], consents: Bool = false, quarantine: String? = nil, mapChunk: Int? = nil, recordsPerTransaction: Int? = nil) throws -> FHIRIngest.Summary {
        // The steward is enrolled (once, by the organisation) before the organisation's nonces are read.
        let stewardSigner = consents ? try #require(steward, "the steward is enrolled") : nil
        let signer = TransactionSigner(chain: genesis.chain, identity: "general-hospital", key: keys.signing, firstNonce: try ledger.nextNonce(for: "general-hospital"))
        var options = FHIRIngest.Options(org: "general-hospital", readers: ["general-hospital": keys.agreement.publicKeyBase64])
        if let s = stewardSigner {
            options.consentSigner = TransactionSigner(chain: genesis.chain, identity: s.identity, key: s.key, firstNonce: try ledger.nextNonce(for: s.identity))
        }
        options.quarantinePath = quarantine ?? dir.appendingPathComponent("quarantine.ndjson").path
        options.serviceSecret = ServiceCommitment.secret(keys)
        options.agreementKey = keys.agreement
        if let mapChunk { options.mapChunk = mapChunk }
        if let recordsPerTransaction { options.recordsPerTransaction = recordsPerTransaction }
        let ingest = FHIRIngest(ledger: ledger, signer: signer, identity: PatientIdentity(consortiumSecret: Array(repeating: 5, count: 32)), options: options) { [self] txs in
            now += 1000
            let out = try ledger.submit(txs, proposer: keys, time: now)
            try views.catchUp(ledger)
            return out
        }
        return try ingest.ingest(paths: paths)
    }
}

@Suite struct FHIRIngestTests {
    /// The export is mapped and committed a chunk at a time; small chunks (many of them, batches
    /// straddling them) must give exactly the views the default gives, and a re-run adds nothing.
    @Test func mappingInSmallChunksGivesTheSameViews() throws {
        let whole = try IngestFixture()
        let a = try whole.ingest([IngestFixture.fixture])
        let chunked = try IngestFixture()
        let b = try chunked.ingest([IngestFixture.fixture], mapChunk: 97, recordsPerTransaction: 250)
        #expect(b.loaded == a.loaded && b.notIngested == a.notIngested && b.quarantined.isEmpty && a.quarantined.isEmpty)
        #expect(b.transactions > a.transactions)
        #expect(try chunked.views.contentDigest() == whole.views.contentDigest())
        let again = try chunked.ingest([IngestFixture.fixture], mapChunk: 97, recordsPerTransaction: 250)
        #expect(again.loadedTotal - (again.loaded["Medication"] ?? 0) == 0 && again.alreadyPresent.values.reduce(0, +) == b.loadedTotal - (b.loaded["Medication"] ?? 0))
        #expect(try chunked.views.contentDigest() == whole.views.contentDigest())
    }

    @Test func theSyntheaExportLoadsWithExactlyTheSourceCounts() throws {
        let f = try IngestFixture()
        let s = try f.ingest([IngestFixture.fixture])
        #expect(s.quarantined.isEmpty, "\(s.quarantined.prefix(3))")
        #expect(try f.views.count("patients") == 13)
        #expect(try f.views.count("encounters") == 1215)
        #expect(try f.views.count("conditions") == 555)
        #expect(try f.views.count("medications") == 1745)
        #expect(try f.views.count("immunizations") == 161)
        #expect(s.loaded["Procedure"] == 2056)
        #expect(s.notIngested["Organization"] == 43)
        // Records kept sealed on the ledger that no view reads yet are counted in the views' meta.
        let withoutView = try f.views.database.scalar("SELECT value FROM v_meta WHERE key = 'records_without_view'")?.textValue
        #expect(withoutView == String(s.loaded["Procedure", default: 0] + s.loaded["Observation", default: 0]))
        // Every patient got a pseudonym and a location entry; no identifier reached the ledger.
        let patients = try f.ledger.entries(prefix: "patient/")
        #expect(patients.count == 13)
        #expect(patients.allSatisfy { PatientContract.holdsRecords($0.value, org: "general-hospital") })
        // Every encounter carries a service commitment that opens, with the site's secret, to its date.
        let secret = ServiceCommitment.secret(f.keys)
        var opened = 0
        for row in try f.views.database.rows("SELECT record_key, patient_id, substr(service_date, 1, 10) FROM v_encounters") {
            let key = row[0].textValue!
            let committed = try f.ledger.value(StateKey.record(key))?["service"]?.stringValue
            let salt = ServiceCommitment.salt(secret: secret, recordKey: key)
            if committed == ServiceCommitment.commitment(salt: salt, patient: row[1].textValue!, provider: "general-hospital", date: row[2].textValue!).hex { opened += 1 }
        }
        #expect(opened == 1215)
        // Each encounter's world_state entry lists its conditions' codes as a per-encounter query
        // orders them (the views read them for a whole block at once).
        var checked = 0, withCodes = 0
        for row in try f.views.database.rows("SELECT record_key, encounter_id, patient_id FROM v_encounters") {
            let expected = try f.views.database.rows("SELECT code FROM v_conditions WHERE encounter_id = ? AND patient_id = ? ORDER BY code, record_key",
                                                     [row[1], row[2]]).compactMap { $0[0].textValue }.joined(separator: ",")
            let ws = try f.views.database.scalar("SELECT value FROM (\(ViewStore.worldStateSQL)) WHERE record_key = ?", [row[0]])?.textValue
            #expect(try ws.map { try JSON.parse($0)["diagnosis_codes"] } == .string(expected))
            checked += 1
            if !expected.isEmpty { withCodes += 1 }
        }
        #expect(checked == 1215 && withCodes > 100, "\(withCodes) encounters with codes")
        let file = try Data(contentsOf: URL(fileURLWithPath: f.ledger.path))
        #expect(file.range(of: Data("Upton904".utf8)) == nil)
        for line in try String(contentsOfFile: IngestFixture.fixture + "/Patient.000.ndjson", encoding: .utf8).split(separator: "\n") {
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            for id in (o["identifier"] as? [[String: Any]]) ?? [] {
                if let v = id["value"] as? String { #expect(file.range(of: Data(v.utf8)) == nil, "an identifier of the source reached the ledger") }
            }
            #expect(file.range(of: Data((o["id"] as! String).utf8)) == nil, "a source resource id reached the ledger")
        }
    }

    @Test func everyFixtureConditionCodeInAShippedValueSetIsFoundByIt() throws {
        let f = try IngestFixture()
        _ = try f.ingest([IngestFixture.fixture])
        let sets = try QueryChecker.loadValueSets(directory: IngestFixture.valueSetDir)
        // Codes in the fixture, straight from the source file.
        var fixtureCodes: [String: Int] = [:]
        for line in try String(contentsOfFile: IngestFixture.fixture + "/Condition.000.ndjson", encoding: .utf8).split(separator: "\n") {
            let o = try JSON.parse(Array(line.utf8))
            if let c = o["code"]?["coding"]?.arrayValue?.first, let code = c["code"]?.stringValue, let system = c["system"]?.stringValue {
                fixtureCodes["\(system)|\(code)", default: 0] += 1
            }
        }
        var covered = 0
        for (name, vs) in sets {
            let inSet = Set(vs.codes.map { "\($0.system)|\($0.code)" })
            let expected = fixtureCodes.filter { inSet.contains($0.key) }.values.reduce(0, +)
            covered += expected
            let rw = try MemberService.rewrittenSQL("SELECT COUNT(*) AS n FROM conditions WHERE code IN VALUESET('\(name)')", valueSets: sets)
            let st = try f.views.database.prepare(rw.sql)
            if st.parameterCount > 0 { try st.bind(.text("2026-11-22 00:00:00"), at: 1) }
            _ = try st.step()
            #expect(st.int(0) == Int64(expected), "value set \(name)")
        }
        #expect(covered >= 4, "the fixture has hypertension and diabetes codes the shipped sets cover")
    }

    @Test func badLinesAreQuarantinedWithTheirLineNumbersAndAReRunAddsNothing() throws {
        let f = try IngestFixture()
        let src = try String(contentsOfFile: IngestFixture.fixture + "/Encounter.000.ndjson", encoding: .utf8).split(separator: "\n").map(String.init)
        let patients = try String(contentsOfFile: IngestFixture.fixture + "/Patient.000.ndjson", encoding: .utf8)
        let work = f.dir.appendingPathComponent("export")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try patients.write(to: work.appendingPathComponent("Patient.000.ndjson"), atomically: true, encoding: .utf8)
        var lines = Array(src.prefix(40))
        lines[4] = String(lines[4].prefix(60))                                          // truncated JSON (line 5)
        lines[9] = #"{"resourceType":"Spaceship","id":"x1"}"#                             // unknown type (line 10)
        lines[14] = lines[14].replacingOccurrences(of: "\"period\"", with: "\"perXod\"") // missing required field (line 15)
        lines[19] = lines[19].replacingOccurrences(of: "Patient/", with: "Patient/nobody-") // broken reference (line 20)
        try lines.joined(separator: "\n").write(to: work.appendingPathComponent("Encounter.000.ndjson"), atomically: true, encoding: .utf8)

        let first = try f.ingest([work.path])
        #expect(first.quarantined.map(\.line) == [5, 10, 15, 20])
        #expect(first.quarantined.allSatisfy { $0.file == "Encounter.000.ndjson" })
        #expect(first.loaded["Encounter"] == 36)
        #expect(try f.views.count("encounters") == 36)
        let q = try String(contentsOfFile: f.dir.appendingPathComponent("quarantine.ndjson").path, encoding: .utf8)
        #expect(q.split(separator: "\n").count == 4)
        let attrs = try FileManager.default.attributesOfItem(atPath: f.dir.appendingPathComponent("quarantine.ndjson").path)
        #expect((attrs[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        let height = f.ledger.height
        let again = try f.ingest([work.path])
        #expect(again.loadedTotal == 0)
        #expect(again.alreadyPresent["Encounter"] == 36)
        #expect(f.ledger.height == height, "a re-run commits nothing")
        #expect(try f.views.count("encounters") == 36)
    }

    @Test func aQuarantineThatCannotBeWrittenIsAnError() throws {
        let f = try IngestFixture()
        let file = f.dir.appendingPathComponent("Broken.ndjson").path
        try "{not json\n".write(toFile: file, atomically: true, encoding: .utf8)
        let nowhere = f.dir.appendingPathComponent("no-such-folder/quarantine.ndjson").path
        #expect(throws: FHIRIngest.FHIRError.self) { try f.ingest([file], quarantine: nowhere) }
        #expect(!FileManager.default.fileExists(atPath: nowhere))
    }

    @Test func anExportWithWindowsLineEndingsLoadsLikeTheOriginal() throws {
        let f = try IngestFixture()
        let work = f.dir.appendingPathComponent("crlf")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        var encounters = 0
        for name in ["Patient.000.ndjson", "Encounter.000.ndjson"] {
            let lines = try String(contentsOfFile: IngestFixture.fixture + "/" + name, encoding: .utf8).split(separator: "\n")
            if name.hasPrefix("Encounter") { encounters = lines.count }
            try (lines.joined(separator: "\r\n") + "\r\n").write(to: work.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let s = try f.ingest([work.path])
        #expect(s.quarantined.isEmpty, "\(s.quarantined.prefix(3))")
        #expect(try f.views.count("patients") == 13)
        let viewed = try f.views.count("encounters")
        #expect(encounters > 0 && viewed == Int64(encounters))
    }

    @Test func aRefusedRegistrationStopsTheLoadAndSaysWhatWasRefused() throws {
        let f = try IngestFixture()
        let height = f.ledger.height
        // Signed by an identity the consortium does not know: the ledger refuses the registrations.
        let stranger = TransactionSigner(chain: f.genesis.chain, identity: "unknown-org", key: SigningKey())
        let options = FHIRIngest.Options(org: "general-hospital", readers: ["general-hospital": f.keys.agreement.publicKeyBase64])
        let ingest = FHIRIngest(ledger: f.ledger, signer: stranger, identity: PatientIdentity(consortiumSecret: Array(repeating: 5, count: 32)), options: options) { txs in
            f.now += 1000
            return try f.ledger.submit(txs, proposer: f.keys, time: f.now)
        }
        do {
            _ = try ingest.ingest(paths: [IngestFixture.fixture])
            Issue.record("the load went on after its registrations were refused")
        } catch let e as FHIRIngest.FHIRError {
            #expect(e.description.hasPrefix("registering patients 1–13 was refused: "), "\(e)")
        }
        #expect(f.ledger.height == height, "nothing was committed")
    }

    @Test func anInterruptedIngestCompletesOnReRun() throws {
        let f = try IngestFixture()
        // Simulate a crash: the submit closure dies after two committed batches.
        let signer = TransactionSigner(chain: f.genesis.chain, identity: "general-hospital", key: f.keys.signing)
        var options = FHIRIngest.Options(org: "general-hospital", readers: ["general-hospital": f.keys.agreement.publicKeyBase64])
        options.recordsPerTransaction = 300
        struct Crash: Error {}
        var calls = 0
        let crashing = FHIRIngest(ledger: f.ledger, signer: signer, identity: PatientIdentity(consortiumSecret: Array(repeating: 5, count: 32)), options: options) { txs in
            calls += 1
            if calls > 3 { throw Crash() }
            f.now += 1000
            return try f.ledger.submit(txs, proposer: f.keys, time: f.now)
        }
        #expect(throws: Crash.self) { try crashing.ingest(paths: [IngestFixture.fixture]) }
        let partial = f.ledger.transactionCount
        #expect(partial > 0)
        // The records the interrupted run committed (batches waiting together share a submission, so
        // how many made it depends on timing; at least the first batch did).
        var committed = 0
        for h in 1...f.ledger.height {
            for tx in try f.ledger.block(at: h).transactions where tx.body.op == "record.put" {
                committed += tx.body.args["records"]?.arrayValue?.count ?? 0
            }
        }
        #expect(committed >= 300)
        let s = try f.ingest([IngestFixture.fixture])
        #expect(s.alreadyPresent.values.reduce(0, +) == committed)
        #expect(s.loadedTotal - (s.loaded["Medication"] ?? 0) > 0, "the re-run loaded the rest")
        #expect(try f.views.count("encounters") == 1215)
        #expect(try f.views.count("conditions") == 555)
    }
}

@Suite struct FHIRSynthTests {
    @Test func sameSeedSameBytesAndTheOutputIngests() throws {
        let a = FileManager.default.temporaryDirectory.appendingPathComponent("tally-synth-\(UUID().uuidString)")
        let b = FileManager.default.temporaryDirectory.appendingPathComponent("tally-synth-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        let sa = try FHIRSynth.write(patients: 200, sites: ["general-hospital", "city-medical"], seed: 11, today: "2026-11-22", to: a.path)
        _ = try FHIRSynth.write(patients: 200, sites: ["general-hospital", "city-medical"], seed: 11, today: "2026-11-22", to: b.path)
        for f in sa.files {
            let rel = String(f.dropFirst(a.path.count))
            #expect(FileManager.default.contents(atPath: f) == FileManager.default.contents(atPath: b.path + rel), "\(rel) differs")
        }
        #expect(sa.resources["Patient"] == 200)
        // Some patients are seen at both sites: the same national identifier.
        func ssns(_ site: String) throws -> Set<String> {
            Set(try String(contentsOfFile: a.path + "/\(site)/Patient.000.ndjson", encoding: .utf8).split(separator: "\n").compactMap { line in
                let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return ((o?["identifier"] as? [[String: Any]])?.first?["value"] as? String)
            })
        }
        #expect(!(try ssns("general-hospital").intersection(try ssns("city-medical"))).isEmpty)
        let f = try IngestFixture()
        let s = try f.ingest([a.path + "/general-hospital"])
        #expect(s.quarantined.isEmpty)
        #expect(try f.views.count("patients") == 100)
        #expect(try f.views.count("encounters") == Int64(s.loaded["Encounter"] ?? -1))
    }

    @Test func researchConsentsInTheExportAreRecordedByTheDataStewardOnce() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tally-synth-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let synth = try FHIRSynth.write(patients: 300, sites: ["general-hospital"], seed: 3, today: "2026-11-22", to: out.path)
        let written = try #require(synth.resources["Consent"])
        #expect(written > 40 && written < 140, "about 30% of 300 patients consent: \(written)")
        let site = out.path + "/general-hospital"

        // Without a data steward the consents are counted, not loaded; nothing is quarantined.
        let a = try IngestFixture()
        let without = try a.ingest([site])
        #expect(without.notIngested["Consent"] == written && without.loaded["Consent"] == nil && without.quarantined.isEmpty)

        // With one, every consent reaches the ledger and the views, for the trial's sponsor; a re-run adds none.
        let f = try IngestFixture()
        let s = try f.ingest([site], consents: true)
        #expect(s.loaded["Consent"] == written && s.quarantined.isEmpty)
        #expect(try f.views.count("consents") == Int64(written))
        let db = try Database(path: f.views.path, flags: [.readOnly])
        #expect(try db.rows("SELECT DISTINCT grantee, scope FROM v_consents") == [[.text("pharmacorp"), .text("trial:cardio-2026")]])
        let again = try f.ingest([site], consents: true)
        #expect(again.alreadyPresent["Consent"] == written && again.loaded["Consent"] == nil)
        #expect(try f.views.count("consents") == Int64(written))
    }

    @Test func badConsentsAreQuarantinedWithTheirReasons() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tally-synth-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        _ = try FHIRSynth.write(patients: 60, sites: ["general-hospital"], seed: 4, today: "2026-11-22", trial: .init(share: 1), to: out.path)
        let file = out.path + "/general-hospital/Consent.000.ndjson"
        var lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[0] = lines[0].replacingOccurrences(of: "Organization/pharmacorp", with: "Organization/not-a-member")
        lines[1] = lines[1].replacingOccurrences(of: "\"end\":\"2027-11-22\"", with: "\"note\":\"open-ended\"")
        lines[2] = lines[2].replacingOccurrences(of: "urn:tally:scope:trial:cardio-2026", with: "urn:tally:scope:everything")
        lines[3] = lines[3].replacingOccurrences(of: "\"status\":\"active\"", with: "\"status\":\"inactive\"")
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let f = try IngestFixture()
        let count = { try Database(path: f.ledger.path).scalar("SELECT count(*) FROM transactions")?.intValue.map(Int.init) ?? -1 }
        _ = try #require(f.steward) // enrolled by the organisation (a transaction of its own) before counting
        let before = try count()
        let s = try f.ingest([out.path + "/general-hospital"], consents: true)
        let reasons = Dictionary(uniqueKeysWithValues: s.quarantined.map { ($0.line, $0.reason) })
        #expect(reasons[1]?.contains("not an active member") == true, "\(reasons)")
        #expect(reasons[2]?.contains("period.end") == true)
        #expect(reasons[3]?.contains("scope") == true)
        #expect(s.quarantined.count == 3 && s.notIngested["Consent"] == 1, "an inactive consent grants nothing and is counted")
        #expect(s.loaded["Consent"] == lines.count - 4)
        // The refused consent is not counted as a transaction: the count is what the ledger holds.
        #expect(try count() - before == s.transactions)
    }

    @Test func aChangedResourceIsWrittenAsItsNextVersionAndAnUnchangedOneIsNot() throws {
        let f = try IngestFixture()
        let work = f.dir.appendingPathComponent("export")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        for name in ["Patient", "Encounter", "Condition"] {
            try FileManager.default.copyItem(atPath: IngestFixture.fixture + "/\(name).000.ndjson", toPath: work.path + "/\(name).000.ndjson")
        }
        let first = try f.ingest([work.path])
        #expect(first.updated.isEmpty && first.quarantined.isEmpty)
        let conditions = try f.views.count("conditions")

        // The EHR corrects one condition's code and exports again.
        let file = work.path + "/Condition.000.ndjson"
        var lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        let o = try JSON.parse(Array(lines[0].utf8))
        let oldCode = try #require(o["code"]?["coding"]?.arrayValue?.first?["code"]?.stringValue)
        try #require(oldCode != "38341003")
        let db = try Database(path: f.views.path, flags: [.readOnly])
        let before = try db.scalar("SELECT count(*) FROM v_conditions WHERE code = '38341003'")?.intValue ?? -1
        lines[0] = lines[0].replacingOccurrences(of: "\"code\":\"\(oldCode)\"", with: "\"code\":\"38341003\"")
        #expect(lines[0].contains("38341003"))
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let second = try f.ingest([work.path])
        #expect(second.updated == ["Condition": 1], "\(second.updated)")
        #expect(second.loaded.isEmpty)
        #expect(try f.views.count("conditions") == conditions, "an update replaces the row, adds none")
        #expect(try db.scalar("SELECT count(*) FROM v_conditions WHERE code = '38341003'")?.intValue == before + 1)

        // The same export once more: nothing changes.
        let third = try f.ingest([work.path])
        #expect(third.updated.isEmpty && third.loaded.isEmpty && third.transactions == 0)
        #expect(try LedgerVerifier.verify(path: f.ledger.path, genesis: f.genesis).ok)
    }
}
