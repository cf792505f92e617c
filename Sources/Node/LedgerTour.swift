import DeidSQL
import Federation
import Foundation
import Ledger

/// The single-node scenario `tally demo` runs until the federated demo exists: a consortium of six
/// organisations on one solo node, exercising identities, encrypted records, consent with
/// break-glass, policy votes, the audit trail, verification and an offline proof.
public struct LedgerTour {
    public let root: URL
    let say: (String) -> Void
    /// The project's `Queries/` folder (query templates and value sets), if available.
    let queries: URL?

    public init(root: URL, queries: URL? = nil, say: @escaping (String) -> Void) {
        self.root = root
        self.queries = queries
        self.say = say
    }

    public struct Summary {
        public var height: Int64
        public var transactions: Int64
        public var verified: Bool
        public var proofChecked: Bool
        public var queriesRun: Int = 0
    }

    public func run() throws -> Summary {
        let spec: [(String, String, MemberKind, Bool)] = [
            ("general-hospital", "General Hospital", .hospital, true), ("city-medical", "City Medical Center", .hospital, true),
            ("valley-clinic", "Valley Clinic", .clinic, true), ("healthinsure", "HealthInsure", .insurer, true),
            ("pharmacorp", "PharmaCorp", .pharma, true), ("state-health", "State Public Health", .publicHealth, false),
        ]
        say("== Consortium")
        var dirs: [String: NodeDirectory] = [:]
        for (id, name, kind, voting) in spec {
            dirs[id] = try NodeDirectory.create(at: root.appendingPathComponent(id).path, org: id, name: name, kind: kind, voting: voting)
        }
        let genesis = Genesis(chain: "demo-consortium", time: Clock.wallMillis(), members: try spec.map { try dirs[$0.0]!.member() })
        let secret = NodeDirectory.randomSecret()
        let host = dirs["general-hospital"]!
        try host.join(genesis: genesis, consortiumSecret: secret)
        let node = try SoloNode(directory: host)
        for (id, name, kind, voting) in spec {
            say("  \(id.padding(toLength: 17, withPad: " ", startingAt: 0)) \(kind.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)) \(voting ? "voting" : "audit (non-voting)")  \(name)")
        }
        say("  genesis \(genesis.hash.hex.prefix(16))…, solo node run by general-hospital at \(host.url.path)")

        var signers: [String: TransactionSigner] = [:]
        for (id, _, _, _) in spec {
            signers[id] = TransactionSigner(chain: genesis.chain, identity: id, key: try dirs[id]!.keys().signing)
        }
        func org(_ id: String) -> TransactionSigner { signers[id]! }
        @discardableResult
        func commit(_ tx: Transaction) throws -> (TransactionReceipt?, TransactionError?) {
            let out = try node.submit([tx])
            return (out[0].receipt, out[0].error)
        }
        func expectCommitted(_ tx: Transaction) throws -> TransactionReceipt {
            let (r, e) = try commit(tx)
            guard let r else { throw NodeDirectory.Error("demo transaction \(tx.body.op) refused: \(e.map { "\($0)" } ?? "?")") }
            return r
        }
        func enroll(_ o: String, _ name: String, _ role: String) throws -> TransactionSigner {
            let key = SigningKey()
            _ = try expectCommitted(org(o).sign("identity.enroll", ["name": .string(name), "role": .string(role), "key": .string(key.publicKey.base64)]))
            return TransactionSigner(chain: genesis.chain, identity: "\(o)/\(name)", key: key)
        }

        say("\n== Identities (users certified by their organisation; transactions name the person)")
        let drSmith = try enroll("general-hospital", "dr-smith", Role.physician)
        let steward = try enroll("general-hospital", "privacy-office", Role.dataSteward)
        let portal = try enroll("general-hospital", "patient-portal", Role.patientPortal)
        let drJones = try enroll("city-medical", "dr-jones", Role.physician)
        let erDoc = try enroll("city-medical", "er-physician", Role.physician)
        for s in [drSmith, steward, portal, drJones, erDoc] { say("  enrolled \(s.identity)") }

        say("\n== Patients (pseudonyms from a keyed hash; the identifier never reaches the ledger)")
        let ids = PatientIdentity(consortiumSecret: secret)
        var patients: [String] = []
        for n in 1...3 {
            let pid = ids.pseudonym(system: "urn:demo:mrn", identifier: "MRN-\(1000 + n)")
            patients.append(pid)
            _ = try expectCommitted(drSmith.sign("patient.register", ["patient": .string(pid),
                                                                      "demographic_hash": .string(ids.demographicHash(family: "Demo\(n)", given: "Patient", birthDate: "1970-01-0\(n)"))]))
            say("  registered \(pid) at general-hospital")
        }
        let pid = patients[0]

        say("\n== Encrypted record (readers: general-hospital, city-medical; writer: general-hospital)")
        let members = try genesis.members.reduce(into: [String: String]()) { $0[$1.id] = $1.encryptionKey }
        let note = "{\"type\":\"clinical-note\",\"assessment\":\"essential hypertension\",\"codes\":[\"I10\"]}"
        let args = try RecordBatch.arguments(chain: genesis.chain, keysetID: "ks-demo-1",
                                             readers: ["general-hospital": members["general-hospital"]!, "city-medical": members["city-medical"]!],
                                             writers: ["general-hospital"],
                                             items: [.init(key: "note-\(pid)-1", patient: pid, type: "clinical-note", plaintext: Array(note.utf8))])
        let noteTx = drSmith.sign("record.put", args)
        _ = try expectCommitted(noteTx)
        let record = try node.ledger.value(StateKey.record("note-\(pid)-1"))!
        let keyset = try node.ledger.value(StateKey.keyset("ks-demo-1"))!
        say("  on the ledger: \(record["sealed"]!.stringValue!.count) base64 chars of ciphertext, commitment \(record["commitment"]!.stringValue!.prefix(16))…")
        let cityKey = try Envelope.unwrap(chain: genesis.chain, keyset: keyset, org: "city-medical", key: try dirs["city-medical"]!.keys().agreement)
        let opened = try Envelope.open(record: record, key: cityKey)
        _ = try expectCommitted(drJones.sign("audit.decrypt", ["records": [.string("note-\(pid)-1")], "purpose": "treatment"]))
        say("  city-medical decrypts it (\(opened.count) bytes, commitment checked); the decryption by city-medical/dr-jones is audited")
        do {
            _ = try Envelope.unwrap(chain: genesis.chain, keyset: keyset, org: "healthinsure", key: try dirs["healthinsure"]!.keys().agreement)
            say("  UNEXPECTED: healthinsure decrypted the record")
        } catch {
            say("  healthinsure cannot: \(error)")
        }
        let (_, notWriter) = try commit(drJones.sign("record.put", ["keysets": [], "records": [["key": .string("note-\(pid)-1"), "patient": .string(pid), "version": 2,
            "keyset": "ks-demo-1", "sealed": "AAAA", "commitment": .string(String(repeating: "0", count: 64)), "writers": ["city-medical"]]]]))
        say("  city-medical tries to overwrite it: refused — \(notWriter.map { "\($0)" } ?? "committed?!")")

        say("\n== Consent")
        let day: Int64 = 86_400_000
        func access(_ s: TransactionSigner, _ scope: String) throws -> JSON {
            try expectCommitted(s.sign("consent.access", ["patient": .string(pid), "scope": .string(scope), "purpose": "demo"])).result
        }
        func show(_ r: JSON) -> String {
            r["allowed"] == true ? "allowed\(r["consent"].map { " by \($0.stringValue ?? "")" } ?? "")\(r["requires_review"] == true ? ", FLAGGED for review" : "")"
                : "denied (\(r["reason"]?.stringValue ?? "?"))"
        }
        say("  city-medical/dr-jones asks for treatment access: \(show(try access(drJones, "treatment")))")
        let grant = try expectCommitted(portal.sign("consent.grant", ["patient": .string(pid), "grantee": "city-medical", "scope": "treatment", "expires": .int(Clock.wallMillis() + 30 * day)]))
        let consentID = grant.result["consent"]!.stringValue!
        say("  patient grants city-medical treatment access for 30 days via the portal: \(consentID)")
        say("  city-medical/dr-jones asks again: \(show(try access(drJones, "treatment")))")
        let grantHeight = node.ledger.height
        _ = try expectCommitted(portal.sign("consent.revoke", ["patient": .string(pid), "consent": .string(consentID)]))
        say("  patient revokes it; dr-jones asks again: \(show(try access(drJones, "treatment")))")
        let then = ConsentContract.verify(patient: try node.ledger.value(StateKey.patient(pid), asOf: grantHeight), grantee: "city-medical", scope: "treatment",
                                          at: try node.ledger.block(at: grantHeight).header.time)
        say("  an auditor reads consent as of block \(grantHeight): \(then.allowed ? "allowed" : "denied") — the state at the time of the access")
        _ = try expectCommitted(portal.sign("consent.grant", ["patient": .string(pid), "grantee": "pharmacorp", "scope": "trial:cardio-2026", "expires": .int(Clock.wallMillis() + 365 * day)]))
        say("  patient consents to PharmaCorp's trial cardio-2026 (scope trial:cardio-2026)")

        say("\n== Break-glass")
        let bg = try access(erDoc, "emergency")
        say("  city-medical/er-physician, emergency: \(show(bg)) (access \(bg["access"]!.stringValue!))")
        _ = try expectCommitted(steward.sign("consent.review", ["access": bg["access"]!, "outcome": "justified", "note": "ED admission, patient unconscious"]))
        say("  general-hospital/privacy-office reviews it: justified (the review is itself a transaction)")

        say("\n== Query policies (custodians vote; status is derived from the votes)")
        let policyDoc: JSON = ["id": "trial-eligibility-cardio", "purpose": "Eligible-patient counts for trial cardio-2026", "legal_basis": "research-with-consent",
                               "requesters": ["pharmacorp"], "k": 11, "consent": ["scope": "trial:cardio-2026"], "expires": .int(Clock.wallMillis() + 180 * day),
                               "approval": ["rule": "all"]]
        let proposed = try expectCommitted(org("pharmacorp").sign("policy.propose", ["document": policyDoc]))
        let hash = proposed.result["hash"]!
        say("  pharmacorp proposes trial-eligibility-cardio (k = 11), hash \(hash.stringValue!.prefix(16))…")
        for (o, v) in [("general-hospital", "approve"), ("city-medical", "approve"), ("valley-clinic", "reject")] {
            let r = try expectCommitted(org(o).sign("policy.vote", ["policy": "trial-eligibility-cardio", "hash": hash, "vote": .string(v)]))
            say("  \(o) votes \(v) → status \(r.result["status"]!.stringValue!)")
        }
        let templateFiles = ["ili_surveillance.sql", "hypertension_prevalence.sql"]
        let templates: [(String, String)] = templateFiles.compactMap { f in
            guard let q = queries, let text = try? String(contentsOf: q.appendingPathComponent(f), encoding: .utf8) else { return nil }
            return (f, text)
        }
        let ili: JSON = ["id": "ili-surveillance", "purpose": "Daily influenza-like-illness counts by region", "legal_basis": "public-health-surveillance",
                         "requesters": ["state-health"], "k": 11, "expires": .int(Clock.wallMillis() + 365 * day), "approval": ["rule": "quorum", "quorum": 2],
                         "templates": .array(templates.map { ["file": .string($0.0), "sha256": .string(Hash32.sha256(Array($0.1.utf8)).hex)] })]
        let iliP = try expectCommitted(org("state-health").sign("policy.propose", ["document": ili])).result
        for o in ["general-hospital", "city-medical"] {
            _ = try expectCommitted(org(o).sign("policy.vote", ["policy": "ili-surveillance", "hash": iliP["hash"]!, "vote": "approve"]))
        }
        let iliState = try node.ledger.value(StateKey.policy("ili-surveillance"))!
        let now = Clock.wallMillis()
        say("  ili-surveillance (quorum 2): \(PolicyStatus.derive(iliState, at: now).rawValue); answers from general-hospital: \(PolicyStatus.approved(iliState, by: "general-hospital", at: now)), from valley-clinic (did not approve): \(PolicyStatus.approved(iliState, by: "valley-clinic", at: now))")
        let k5: JSON = policyDoc.setting("id", "sloppy-policy").setting("k", 5)
        let (_, lowK) = try commit(org("pharmacorp").sign("policy.propose", ["document": k5]))
        say("  a policy with k = 5 is refused: \(lowK.map { "\($0)" } ?? "committed?!")")

        var queriesRun = 0
        if let q = queries, templates.count == templateFiles.count {
            say("\n== Member evaluation at general-hospital (decrypted views, sandbox, k-anonymity)")
            let today = String(MemberService.sqlTime(Clock.wallMillis()).prefix(10))
            let people = SyntheticPopulation(seed: 2026, today: today).patients(4000, site: "general-hospital")
            var registrations: [Transaction] = []
            var items: [RecordBatch.Item] = []
            for person in people {
                let pid = ids.pseudonym(system: "urn:demo:mrn", identifier: person.identifier)
                registrations.append(drSmith.sign("patient.register", ["patient": .string(pid), "demographic_hash": .string(ids.demographicHash(family: person.family, given: "Demo", birthDate: person.birthDate))]))
                items += person.records.map { var it = $0; it.patient = pid; return it }
            }
            _ = try node.submit(registrations)
            var batchNo = 0
            var i = 0
            while i < items.count {
                let chunk = Array(items[i..<min(i + 1000, items.count)])
                let args = try RecordBatch.arguments(chain: genesis.chain, keysetID: "ks-synth-\(batchNo)", readers: ["general-hospital": members["general-hospital"]!],
                                                     writers: ["general-hospital"], items: chunk)
                _ = try expectCommitted(drSmith.sign("record.put", args))
                batchNo += 1
                i += 1000
            }
            let views = try node.views()
            say("  \(people.count) synthetic patients, \(items.count) sealed records in \(batchNo) batches; views at height \(views.height): \(try views.count("patients")) patients, \(try views.count("encounters")) encounters, \(try views.count("conditions")) conditions")
            let member = try node.member(valueSetDirectory: q.appendingPathComponent("valuesets").path)
            let signer = PublicSigningKey(base64: genesis.members.first { $0.id == "general-hospital" }!.signingKey)!
            for (file, text) in templates {
                let h = node.ledger.height
                let request = QueryRequest(queryID: "demo-\(file)", policyID: "ili-surveillance", requester: "state-health", sql: text,
                                           pinnedTime: try node.ledger.block(at: h).header.time, pinnedHeight: h)
                let (r, plan) = try member.evaluate(request)
                say("\n  state-health runs Queries/\(file) under ili-surveillance (k = \(r.k), pinned at height \(h)):")
                for line in ResultText.render(r, plan: plan).split(separator: "\n") { say("    " + line) }
                say("    \(r.rows.count) rows released, \(r.suppressedRows) withheld (fewer than \(r.k) patients), \(r.suppressedCells) cells withheld; signed by general-hospital: \(r.isValid(signedBy: signer) ? "verified" : "INVALID")")
                queriesRun += 1
            }
            let trialSQL = (try? String(contentsOf: q.appendingPathComponent("trial_eligibility.sql"), encoding: .utf8)) ?? ""
            let h = node.ledger.height
            do {
                _ = try member.evaluate(QueryRequest(queryID: "demo-trial", policyID: "trial-eligibility-cardio", requester: "pharmacorp", sql: trialSQL,
                                                     parameters: ["min_age": .integer(45), "max_age": .integer(75)],
                                                     pinnedTime: try node.ledger.block(at: h).header.time, pinnedHeight: h))
                say("\n  UNEXPECTED: the trial query ran under a rejected policy")
            } catch {
                say("\n  pharmacorp's trial query under trial-eligibility-cardio: refused by general-hospital — \(error)")
            }
        } else {
            say("\n(Queries/ not found: run from the repository root to include member evaluation)")
        }

        say("\n== Audit trail for \(pid) (who touched this patient's data, when, under which consent)")
        for (_, e) in try node.ledger.entries(prefix: StateKey.auditPrefix(pid)) {
            let t = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(e["time"]?.intValue ?? 0) / 1000))
            var extra = ""
            if let a = e["allowed"] { extra += a == true ? " allowed" : " denied" }
            if let r = e["reason"]?.stringValue { extra += " (\(r))" }
            if let c = e["consent"]?.stringValue { extra += " consent=\(c)" }
            if e["break_glass"] == true { extra += " BREAK-GLASS" }
            if let o = e["outcome"]?.stringValue { extra += " outcome=\(o)" }
            say("  \(t)  \((e["event"]?.stringValue ?? "").padding(toLength: 18, withPad: " ", startingAt: 0)) \(e["actor"]?.stringValue ?? "")\(extra)")
        }

        say("\n== Refusals (the ledger is unchanged by each)")
        let before = node.ledger.height
        let replay = try node.ledger.submit([noteTx], proposer: node.keys, time: Clock.wallMillis())[0].error
        say("  replaying the record transaction: \(replay.map { "\($0)" } ?? "committed?!")")
        let forger = TransactionSigner(chain: genesis.chain, identity: "general-hospital/dr-smith", key: SigningKey())
        let forged = try node.ledger.submit([forger.sign("patient.register", [:])], proposer: node.keys, time: Clock.wallMillis())[0].error
        say("  a transaction claiming to be dr-smith, signed with another key: \(forged.map { "\($0)" } ?? "committed?!")")
        let stranger = TransactionSigner(chain: genesis.chain, identity: "rogue-lab", key: SigningKey())
        let unknown = try node.ledger.submit([stranger.sign("patient.register", [:])], proposer: node.keys, time: Clock.wallMillis())[0].error
        say("  a transaction from a non-member: \(unknown.map { "\($0)" } ?? "committed?!")")
        let garbage = try node.ledger.submit(bytes: [Array("{\"not\":\"a transaction\"}".utf8)], proposer: node.keys, time: Clock.wallMillis())[0].error
        say("  malformed bytes: \(garbage.map { "\($0)" } ?? "committed?!")")
        say("  height before \(before), after \(node.ledger.height)")

        say("\n== Verification")
        let report = try LedgerVerifier.verify(path: host.ledgerPath, genesis: genesis)
        say("  tally ledger verify: \(report.ok ? "ok" : "FAILED \(report.failure!)") — \(report.blocks) blocks, \(report.transactions) transactions, \(report.stateKeys) state keys recomputed from genesis")
        let proof = try node.ledger.inclusionProof(for: noteTx.hash)
        var proofOK = false
        do {
            try InclusionProof(json: JSON.parse(proof.json.canonicalBytes)).verify(genesis: genesis)
            proofOK = true
        } catch {}
        say("  inclusion proof of the record transaction \(noteTx.hash.hex.prefix(16))…: tx path \(proof.txPath.count), block path \(proof.blockPath.count) hashes, checked offline against genesis: \(proofOK ? "ok" : "FAILED")")
        say("  (try: tally ledger verify --dir \(host.url.path); tally ledger prove --dir \(host.url.path) \(noteTx.hash.hex))")
        return Summary(height: node.ledger.height, transactions: report.transactions, verified: report.ok, proofChecked: proofOK, queriesRun: queriesRun)
    }
}
