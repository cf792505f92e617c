import DeidSQL
import Federation
import Foundation
import Ledger
import SQLiteStore

/// A seeded synthetic population on a real ledger, with one hospital's decrypted views.
final class Population {
    static let start: Int64 = 1_790_000_000_000 // 2026-09-21
    let dir: URL
    let orgs: [String: OrganisationKeys]
    let genesis: Genesis
    let ledger: Ledger
    var now: Int64 = Population.start
    var signers: [String: TransactionSigner] = [:]
    let ids = PatientIdentity(consortiumSecret: Array(repeating: 9, count: 32))
    var patients: [String] = []
    var views: ViewStore!
    var portal: TransactionSigner!

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tally-fed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var keys: [String: OrganisationKeys] = [:]
        var members: [Member] = []
        for (id, kind, voting) in [("general-hospital", MemberKind.hospital, true), ("city-medical", .hospital, true),
                                   ("pharmacorp", .pharma, true), ("state-health", .publicHealth, false)] {
            let k = OrganisationKeys(org: id)
            keys[id] = k
            members.append(Member(id: id, name: id, kind: kind, signingKey: k.signing.publicKey.base64, encryptionKey: k.agreement.publicKeyBase64, voting: voting))
        }
        orgs = keys
        var params = ConsortiumParams()
        params.maxTransactionBytes = 8 << 20
        genesis = Genesis(chain: "fed-test", time: Population.start - 1000, params: params, members: members)
        ledger = try Ledger.create(path: dir.appendingPathComponent("ledger.sqlite").path, genesis: genesis)
        for (id, k) in keys { signers[id] = TransactionSigner(chain: genesis.chain, identity: id, key: k.signing, clock: { [unowned self] in now }) }
        let pk = SigningKey()
        try commit(signers["general-hospital"]!.sign("identity.enroll", ["name": "portal", "role": "patient-portal", "key": .string(pk.publicKey.base64)]))
        portal = TransactionSigner(chain: genesis.chain, identity: "general-hospital/portal", key: pk, clock: { [unowned self] in now })
        views = try ViewStore(path: dir.appendingPathComponent("views.sqlite").path, org: "general-hospital", chain: genesis.chain,
                              agreementKey: keys["general-hospital"]!.agreement)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    @discardableResult
    func commit(_ txs: Transaction...) throws -> [TransactionReceipt] { try commit(txs) }

    @discardableResult
    func commit(_ txs: [Transaction]) throws -> [TransactionReceipt] {
        now += 1000
        let out = try ledger.submit(txs, proposer: orgs["general-hospital"]!, time: now)
        return try out.map { s in
            guard let r = s.receipt else { throw LedgerError.storage("refused: \(s.error!)") }
            return r
        }
    }

    struct Person {
        var birthDate: String
        var sex: String
        var region: String
        var zip3: String
        var hypertension: Bool
        var betaBlocker: Bool
        var ili: Bool
    }

    /// Writes `people` as sealed records of general-hospital (readers: general-hospital only).
    func add(_ people: [Person], encounterDate: String = "2026-09-20") throws {
        var items: [RecordBatch.Item] = []
        var registrations: [Transaction] = []
        for person in people {
            let n = patients.count
            let pid = ids.pseudonym(system: "urn:test", identifier: "P\(n)")
            patients.append(pid)
            registrations.append(signers["general-hospital"]!.sign("patient.register", ["patient": .string(pid), "demographic_hash": .string(String(repeating: "ab", count: 32))]))
            items.append(.init(key: "gh/patient/\(n)", patient: pid, type: "Patient",
                               plaintext: RecordPayload.patient(birthDate: person.birthDate, sex: person.sex, region: person.region, zip3: person.zip3, deceased: false).bytes))
            items.append(.init(key: "gh/encounter/\(n)", patient: pid, type: "Encounter",
                               plaintext: RecordPayload.encounter(id: "E\(n)", date: encounterDate, kind: "ambulatory", region: nil).bytes))
            if person.hypertension {
                items.append(.init(key: "gh/condition/\(n)-htn", patient: pid, type: "Condition",
                                   plaintext: RecordPayload.condition(encounter: "E\(n)", system: CodeSystem.snomed, code: "59621000", onset: "2020-01-01").bytes))
            }
            if person.ili {
                items.append(.init(key: "gh/condition/\(n)-ili", patient: pid, type: "Condition",
                                   plaintext: RecordPayload.condition(encounter: "E\(n)", system: "http://hl7.org/fhir/sid/icd-10-cm", code: "J11.1", onset: encounterDate).bytes))
            }
            if person.betaBlocker {
                items.append(.init(key: "gh/med/\(n)", patient: pid, type: "MedicationRequest",
                                   plaintext: RecordPayload.medication(system: CodeSystem.rxnorm, code: "866412", drugClass: "beta-blocker", start: "2021-01-01", end: nil).bytes))
            }
        }
        try commit(registrations)
        let args = try RecordBatch.arguments(chain: genesis.chain, keysetID: "ks-\(patients.count)", readers: ["general-hospital": orgs["general-hospital"]!.agreement.publicKeyBase64],
                                             writers: ["general-hospital"], items: items)
        try commit(signers["general-hospital"]!.sign("record.put", args))
        try views.catchUp(ledger)
    }

    /// A seeded population of `n` people.
    func seed(_ n: Int, seed: UInt64 = 42) throws {
        var rng = SeededGenerator(seed: seed)
        var people: [Person] = []
        for _ in 0..<n {
            let year = Int.random(in: 1940...2005, using: &rng)
            let old = 2026 - year
            people.append(Person(birthDate: String(format: "%04d-%02d-%02d", year, Int.random(in: 1...12, using: &rng), Int.random(in: 1...28, using: &rng)),
                                 sex: Bool.random(using: &rng) ? "female" : "male",
                                 region: ["north", "south", "east"].randomElement(using: &rng)!,
                                 zip3: ["021", "022", "100", "946"].randomElement(using: &rng)!,
                                 hypertension: Double.random(in: 0..<1, using: &rng) < Double(old) / 100,
                                 betaBlocker: Double.random(in: 0..<1, using: &rng) < 0.3,
                                 ili: Double.random(in: 0..<1, using: &rng) < 0.2))
        }
        try add(people)
    }

    /// Proposes a policy and has `approvers` approve it. Returns its id.
    @discardableResult
    func policy(_ id: String, k: Int64 = 11, requesters: [String] = ["pharmacorp"], consent: JSON? = nil, adHoc: Bool = true,
                templates: [String] = [], parameters: JSON? = nil, approvers: [String] = ["general-hospital", "city-medical"]) throws -> String {
        var doc: JSON = ["id": .string(id), "purpose": "test", "k": .int(k), "expires": .int(now + 365 * 86_400_000),
                         "requesters": .array(requesters.map { .string($0) }), "ad_hoc": .bool(adHoc),
                         "templates": .array(templates.map { ["sha256": .string(Hash32.sha256(Array($0.utf8)).hex)] })]
        if let consent { doc = doc.setting("consent", consent) }
        if let parameters { doc = doc.setting("parameters", parameters) }
        let r = try commit(signers["pharmacorp"]!.sign("policy.propose", ["document": doc]))
        for a in approvers {
            try commit(signers[a]!.sign("policy.vote", ["policy": .string(id), "hash": r[0].result["hash"]!, "vote": "approve"]))
        }
        try views.catchUp(ledger)
        return id
    }

    func member() throws -> MemberService {
        MemberService(keys: orgs["general-hospital"]!, ledger: ledger, views: views,
                          valueSets: try QueryChecker.loadValueSets(directory: Population.valueSetDir))
    }

    func request(_ sql: String, policy: String, requester: String = "pharmacorp", params: [String: SQLValue] = [:], height: Int64? = nil) throws -> QueryRequest {
        let h = height ?? ledger.height
        return QueryRequest(queryID: "q-\(UUID().uuidString.prefix(8))", policyID: policy, requester: requester, sql: sql, parameters: params,
                            pinnedTime: try ledger.block(at: h).header.time, pinnedHeight: h)
    }

    static let valueSetDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Queries/valuesets").path
}

