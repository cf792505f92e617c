import Crypto
import Federation
import Foundation
import Ledger

/// Loads a FHIR R4 bulk export (NDJSON) into the ledger as sealed records: patients get consortium
/// pseudonyms and a record-location entry, every resource becomes a record readable by the
/// custodian (and whoever the site's sharing rules name), committed in batches under one signature
/// and one wrapped data key. Bad lines are quarantined with file, line and reason; valid lines load.
/// Re-running the same export adds nothing; a crash leaves whole batches, and a re-run completes.
public final class FHIRIngest {
    public struct Options {
        public var org: String
        /// Reader organisations → their X25519 public keys (base64). Must include `org`.
        public var readers: [String: String]
        public var recordsPerTransaction = 1000
        /// Resources mapped per step: small enough that the first batches commit while the rest is
        /// mapped, large enough to keep every core busy mapping.
        public var mapChunk = 8192
        public var quarantinePath: String?
        /// The site's `ServiceCommitment.secret`: when set, each encounter gets a public service
        /// commitment that lets a payer check a claim without reading the record.
        public var serviceSecret: [UInt8]?
        /// Who records the export's research consents (`consent.grant` is a data steward's or a patient
        /// portal's act, not the organisation's). Without one, Consent resources are counted as not read.
        public var consentSigner: TransactionSigner?
        /// This organisation's agreement key. With it, a resource already on the ledger is compared with
        /// the stored record; when its mapped content changed (a new version in the EHR), the record
        /// is written again as its next version. Without it, any resource already present is skipped.
        public var agreementKey: AgreementKey?
        public init(org: String, readers: [String: String]) {
            self.org = org
            self.readers = readers
        }
    }

    public struct Summary: Sendable {
        public var loaded: [String: Int] = [:]
        public var alreadyPresent: [String: Int] = [:]
        /// Resources already on the ledger whose content changed: written as the record's next version.
        public var updated: [String: Int] = [:]
        /// Active consents not recorded because no data steward signed for them (`consentSigner`).
        public var consentsNeedingSteward = 0
        public var notIngested: [String: Int] = [:]
        public var quarantined: [Quarantined] = []
        public var linesRead = 0
        public var transactions = 0
        public var seconds = 0.0

        public var loadedTotal: Int { loaded.values.reduce(0, +) }
        public init() {}
    }

    public struct Progress: Sendable {
        public var done: Int
        public var total: Int
        public var elapsed: Double
    }

    let ledger: Ledger
    let signer: TransactionSigner
    let identity: PatientIdentity
    let submit: ([Transaction]) throws -> [Submission]
    let options: Options

    public init(ledger: Ledger, signer: TransactionSigner, identity: PatientIdentity, options: Options, submit: @escaping ([Transaction]) throws -> [Submission]) {
        self.ledger = ledger
        self.signer = signer
        self.identity = identity
        self.options = options
        self.submit = submit
    }

    /// Parses and maps every line without writing anything (the baseline the ingest benchmark
    /// compares against). Returns the number of resources mapped.
    public static func parseOnly(paths: [String]) throws -> Int {
        var n = 0
        for f in try files(paths) {
            for line in try lines(of: f) {
                guard let (type, o) = try? FHIRMapper.parseLine(line.text) else { continue }
                if type == "Patient" { if (try? FHIRMapper.patientFacts(o)) != nil { n += 1 } }
                else if type == "Consent" { if (try? FHIRMapper.consent(o)) != nil { n += 1 } }
                else if (try? FHIRMapper.map(type, o, medications: [:])) != nil { n += 1 }
            }
        }
        return n
    }

    /// NDJSON files under the given paths (directories are searched for `*.ndjson`).
    public static func files(_ paths: [String]) throws -> [String] {
        var out: [String] = []
        for p in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else { throw FHIRError("no such file or directory: \(p)") }
            if isDir.boolValue {
                out += try FileManager.default.contentsOfDirectory(atPath: p).filter { $0.hasSuffix(".ndjson") }.sorted().map { p + "/" + $0 }
            } else {
                out.append(p)
            }
        }
        return out
    }

    public struct FHIRError: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }

    /// A Patient line's facts and keyed hashes, computed while parsing.
    struct PatientWork {
        var facts: PatientFacts
        var payload: RecordPayload
        var pseudonym: String
        var demographicHash: String
        var recordKey: String
    }

    /// A mapped resource waiting for its batch.
    struct Pending {
        var key: String
        var type: String
        var patient: String
        var payload: [UInt8]
        var serviceDate: String?
    }

    struct Line {
        var file: String
        var number: Int
        var text: Substring
    }

    /// The non-blank lines of one NDJSON file, numbered from 1.
    static func lines(of path: String) throws -> [Line] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let name = (path as NSString).lastPathComponent
        var lines: [Line] = []
        // Split on newline bytes (splitting the String compares grapheme clusters, a seventh of
        // the ingest thread's time). Blank lines are skipped: scanning stops at the first byte that
        // is not a space or tab (a full trim of every 1 KB line was a tenth of the ingest's time).
        for (i, l) in text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated()
        where l.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) {
            lines.append(Line(file: name, number: i + 1, text: Substring(l)))
        }
        return lines
    }

    public func ingest(paths: [String], progress: ((Progress) -> Void)? = nil) throws -> Summary {
        let started = Date()
        var summary = Summary()
        let files = try FHIRIngest.files(paths)
        var lines: [Line] = []
        for f in files { lines += try FHIRIngest.lines(of: f) }
        summary.linesRead = lines.count

        // Parsing is pure and most of the up-front work: every line is parsed on all cores first.
        // A Patient's facts and keyed hashes (pseudonym, demographic hash, record key) are pure as
        // well, and are computed here too rather than one patient at a time below.
        let parsedLines: [Result<(String, FHIRJSON, PatientWork?), FHIRMapper.Failure>] = parallelMap(lines.count) { i in
            do {
                let (type, o) = try FHIRMapper.parseLine(lines[i].text)
                guard type == "Patient" else { return .success((type, o, nil)) }
                let (facts, payload) = try FHIRMapper.patientFacts(o)
                return .success((type, o, PatientWork(facts: facts, payload: payload,
                                                      pseudonym: identity.pseudonym(system: facts.identifierSystem, identifier: facts.identifier),
                                                      demographicHash: identity.demographicHash(family: facts.family, given: facts.given, birthDate: facts.birthDate),
                                                      recordKey: identity.recordKey(org: options.org, type: "Patient", sourceID: facts.fhirID))))
            } catch let f as FHIRMapper.Failure { return .failure(f) } catch {
                return .failure(FHIRMapper.Failure(reason: "not a JSON object"))
            }
        }

        // Pass 1: patients and medications, which the other resources refer to.
        var parsed: [(Line, String, FHIRJSON)] = []
        var patients: [String: String] = [:] // FHIR id → pseudonym
        var medications: [String: (String, String)] = [:]
        var newPatients: [PatientWork] = []
        for (line, result) in zip(lines, parsedLines) {
            do {
                let (type, o, patient) = try result.get()
                guard FHIRMapper.readTypes.contains(type) else {
                    if FHIRResourceTypes.all.contains(type) {
                        summary.notIngested[type, default: 0] += 1
                    } else {
                        summary.quarantined.append(Quarantined(file: line.file, line: line.number, reason: "unknown resource type \(type.prefix(40))"))
                    }
                    continue
                }
                switch type {
                case "Patient":
                    let p = patient!
                    patients[p.facts.fhirID] = p.pseudonym
                    newPatients.append(p)
                case "Medication":
                    let (s, c) = try FHIRMapper.coding(FHIRMapper.obj(o, "code"))
                    medications[FHIRMapper.str(o, "id")!] = (s, c)
                    summary.loaded["Medication", default: 0] += 1 // resolved into MedicationRequests
                default:
                    parsed.append((line, type, o))
                }
            } catch let f as FHIRMapper.Failure {
                summary.quarantined.append(Quarantined(file: line.file, line: line.number, reason: f.reason))
            }
        }

        // Register the patients this site holds (idempotent on the ledger), many under one signature.
        var registrations: [JSON] = []
        var pending: [Pending] = []
        // One bulk look-up of who is registered here already (one query per patient was a
        // sequential stretch before anything could commit).
        let onLedgerPatients = try ledger.values(newPatients.map { StateKey.patient($0.pseudonym) })
        for p in newPatients {
            let pid = p.pseudonym
            if onLedgerPatients[StateKey.patient(pid)]?["locations"]?[options.org] == nil {
                registrations.append(["patient": .string(pid), "demographic_hash": .string(p.demographicHash)])
            }
            pending.append(Pending(key: p.recordKey, type: "Patient", patient: pid, payload: p.payload.bytes, serviceDate: nil))
        }
        // Whether this organisation has put any record on the ledger: on a first load it has not, and
        // the look-ups below (one index probe per record) are skipped. (Records are looked up by key
        // only, never scanned: `StateKey.pointOnlyNamespaces`.) Asked before the registrations are
        // queued: once the committer holds the ledger, asking would wait for them to commit.
        let anyOnLedger = try ledger.hasCommitted(op: "record.put", byOrganisation: options.org)
        // The record count is known once everything is mapped; until then, an upper bound.
        let total = LockedCount(pending.count + parsed.count)
        let committer = Committer(submit: submit) { done in
            progress?(Progress(done: done, total: total.value, elapsed: Date().timeIntervalSince(started)))
        }
        defer { committer.stop() }
        // Registrations commit on the committer thread (in order, before any record that names the
        // patient) while the rest of the export is mapped here.
        var r0 = 0
        while r0 < registrations.count {
            let chunk = Array(registrations[r0..<min(r0 + PatientContract.maxBatch, registrations.count)])
            try committer.enqueue(signer.sign("patient.register_many", ["patients": .array(chunk)]), records: 0, types: [:],
                                  what: "registering patients \(r0 + 1)–\(r0 + chunk.count)")
            r0 += chunk.count
        }

        // Pass 2: everything else, with references checked, then sealed, signed and committed in
        // batches: one signature and one wrapped data key per batch. Sealing and signing the next
        // batch runs here while a committer thread commits earlier ones (a bounded number of bytes
        // wait); batches commit in order, and the first refusal stops the load. The export is mapped
        // a chunk at a time, so the first batches commit while the rest is still being mapped.
        var encounters = Set<String>()
        for (_, type, o) in parsed where type == "Encounter" { encounters.insert(FHIRMapper.str(o, "id")!) }
        var consents: [(FHIRMapper.ConsentFacts, String, Line)] = []
        var batch: [RecordBatch.Item] = []
        func flush() throws {
            guard !batch.isEmpty else { return }
            let ksID = "ks-" + Hash32.sha256(Array(batch.map(\.key).joined(separator: "\n").utf8)).hex.prefix(24)
            let args = try RecordBatch.arguments(chain: ledger.chain, keysetID: String(ksID), readers: options.readers, writers: [options.org], items: batch,
                                                 serviceSecret: options.serviceSecret)
            var types: [String: Int] = [:]
            for it in batch where it.version == 1 { types[it.type, default: 0] += 1 }
            let tx = signer.sign("record.put", args, check: true)
            guard tx.signatureChecked else { throw FHIRError("a batch of \(batch.count) records was signed with a key that does not verify") }
            try committer.enqueue(tx, records: batch.count, types: types, what: "a batch of \(batch.count) records")
            batch.removeAll()
        }
        var queued = Set<String>()
        var unwrapped: [String: SymmetricKey] = [:]
        /// Queues records for the batches: skips what is queued or on the ledger unchanged already,
        /// and writes a changed one as its next version.
        func enqueue(_ records: [Pending]) throws {
            // Which records are on the ledger already, looked up together in one read transaction
            // (one look-up per record taken while the committer holds the ledger would wait for each block).
            let onLedger = anyOnLedger ? try ledger.values(records.map { StateKey.record($0.key) }) : [:]
            for p in records {
                // Listed twice in this export (its first copy may still be committing): once is enough.
                guard queued.insert(p.key).inserted else {
                    summary.alreadyPresent[p.type, default: 0] += 1
                    continue
                }
                var version: Int64 = 1
                if let existing = onLedger[StateKey.record(p.key)] {
                    // On the ledger: unchanged (skip), or changed since (its next version).
                    guard let next = try nextVersion(existing, payload: p.payload, keys: &unwrapped) else {
                        summary.alreadyPresent[p.type, default: 0] += 1
                        continue
                    }
                    version = next
                    summary.updated[p.type, default: 0] += 1
                }
                batch.append(RecordBatch.Item(key: p.key, patient: p.patient, type: p.type, version: version, plaintext: p.payload, serviceDate: p.serviceDate))
                if batch.count >= options.recordsPerTransaction { try flush() }
            }
        }
        var records = pending.count
        try enqueue(pending)
        pending = []
        var from = 0
        while from < parsed.count {
            let chunk = parsed[from..<min(from + max(1, options.mapChunk), parsed.count)]
            from = chunk.endIndex
            // Mapping (and each record's keyed ledger key) is pure: computed on all cores, checked in order below.
            let mapped: [Result<(patient: String, payload: [UInt8], serviceDate: String?, key: String), FHIRMapper.Failure>?] = parallelMap(chunk.count) { i in
                let (_, type, o) = chunk[chunk.startIndex + i]
                guard type != "Consent" else { return nil }
                do {
                    let (patientRef, payload, serviceDate) = try FHIRMapper.map(type, o, medications: medications)
                    return .success((patientRef, payload, serviceDate, identity.recordKey(org: options.org, type: type, sourceID: FHIRMapper.str(o, "id")!)))
                } catch let f as FHIRMapper.Failure { return .failure(f) } catch {
                    return .failure(FHIRMapper.Failure(reason: "\(type) could not be mapped"))
                }
            }
            var ready: [Pending] = []
            for ((line, type, o), m) in zip(chunk, mapped) {
                do {
                    if type == "Consent" {
                        guard let c = try FHIRMapper.consent(o) else { summary.notIngested["Consent", default: 0] += 1; continue }
                        guard let pid = try patients[c.patientRef] ?? previouslyIngestedPatient(c.patientRef) else {
                            throw FHIRMapper.Failure(reason: "broken reference: the Consent's Patient is not in this export or already ingested")
                        }
                        consents.append((c, pid, line))
                        continue
                    }
                    let (patientRef, payload, serviceDate, recordKey) = try m!.get()
                    guard let pid = try patients[patientRef] ?? previouslyIngestedPatient(patientRef) else {
                        throw FHIRMapper.Failure(reason: "broken reference: the subject Patient is not in this export or already ingested")
                    }
                    if let enc = FHIRMapper.str(FHIRMapper.obj(o, "encounter"), "reference"), enc.hasPrefix("Encounter/") {
                        let eid = String(enc.dropFirst(10))
                        if !encounters.contains(eid), try ledger.value(StateKey.record(identity.recordKey(org: options.org, type: "Encounter", sourceID: eid))) == nil {
                            throw FHIRMapper.Failure(reason: "broken reference: the Encounter is not in this export or already ingested")
                        }
                    }
                    ready.append(Pending(key: recordKey, type: type, patient: pid, payload: payload, serviceDate: serviceDate))
                } catch let f as FHIRMapper.Failure {
                    summary.quarantined.append(Quarantined(file: line.file, line: line.number, reason: f.reason))
                }
            }
            records += ready.count
            try enqueue(ready)
        }
        total.value = records
        try flush()
        let committed = try committer.finish()
        summary.transactions += committed.transactions
        for (t, n) in committed.loaded { summary.loaded[t, default: 0] += n }
        try grantConsents(consents, into: &summary)
        if let q = options.quarantinePath, !summary.quarantined.isEmpty { try writeQuarantine(summary.quarantined, lines: lines, to: q) }
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// The version a changed resource is written as, or nil when the ledger's record already holds
    /// `payload` (or when this ingest cannot read records: no agreement key).
    private func nextVersion(_ existing: JSON, payload: [UInt8], keys: inout [String: SymmetricKey]) throws -> Int64? {
        guard let agreement = options.agreementKey, let ksID = existing["keyset"]?.stringValue,
              let current = existing["version"]?.intValue else { return nil }
        let key: SymmetricKey
        if let k = keys[ksID] {
            key = k
        } else {
            guard let keyset = try ledger.value(StateKey.keyset(ksID)), keyset["wraps"]?[options.org] != nil else { return nil }
            key = try Envelope.unwrap(chain: ledger.chain, keyset: keyset, org: options.org, key: agreement)
            keys[ksID] = key
        }
        return try Envelope.open(record: existing, key: key) == payload ? nil : current + 1
    }

    /// Records the export's active research consents with `consent.grant`, signed by the data steward;
    /// a consent already on the ledger (same patient, grantee, scope and expiry, still active) is not
    /// granted again, and one the ledger refuses is quarantined with the reason.
    private func grantConsents(_ consents: [(FHIRMapper.ConsentFacts, String, Line)], into summary: inout Summary) throws {
        guard !consents.isEmpty else { return }
        guard let steward = options.consentSigner else {
            summary.notIngested["Consent", default: 0] += consents.count
            summary.consentsNeedingSteward = consents.count
            return
        }
        var txs: [(Transaction, Line)] = []
        var seen = Set<String>()
        for (c, pid, line) in consents {
            let existing = try ledger.value(StateKey.patient(pid))?["consents"]?.objectValue ?? [:]
            let present = existing.values.contains { e in
                e["status"]?.stringValue == "active" && e["grantee"]?.stringValue == c.grantee && e["scope"]?.stringValue == c.scope
                    && e["expires"]?.intValue == c.expires
            }
            if present || !seen.insert("\(pid)|\(c.grantee)|\(c.scope)|\(c.expires)").inserted {
                summary.alreadyPresent["Consent", default: 0] += 1
                continue
            }
            txs.append((steward.sign("consent.grant", ["patient": .string(pid), "grantee": .string(c.grantee), "scope": .string(c.scope),
                                                       "expires": .int(c.expires)]), line))
        }
        var at = 0
        while at < txs.count {
            let chunk = Array(txs[at..<min(at + 1000, txs.count)])
            for (i, out) in try submit(chunk.map(\.0)).enumerated() {
                if let e = out.error {
                    summary.quarantined.append(Quarantined(file: chunk[i].1.file, line: chunk[i].1.number, reason: "consent refused by the ledger: \(e)"))
                } else {
                    summary.loaded["Consent", default: 0] += 1
                    summary.transactions += 1 // committed ones only, like the record batches
                }
            }
            at += chunk.count
        }
    }

    final class LockedCount: @unchecked Sendable {
        private let lock = NSLock()
        private var v: Int
        init(_ v: Int) { self.v = v }
        var value: Int {
            get { lock.withLock { v } }
            set { lock.withLock { v = newValue } }
        }
    }

    /// Commits signed batches in order on a thread of its own; at most `maxQueuedBytes` wait.
    final class Committer: @unchecked Sendable {
        private let submit: ([Transaction]) throws -> [Submission]
        private let progress: (Int) -> Void
        private let cond = NSCondition()
        private var queue: [Job] = []
        private var queuedBytes = 0
        struct Job { var tx: Transaction; var records: Int; var types: [String: Int]; var what: String }
        private var busy = false
        private var failure: Error?
        private var stopped = false
        private var done = 0
        private(set) var transactions = 0
        private(set) var loaded: [String: Int] = [:]
        /// Signed bytes that may wait (one batch always may): enough for the sealing thread to run
        /// ahead while a slow stretch commits, such as the patient registrations at the start,
        /// which are many small transactions. A 1,000-record batch is about half a megabyte.
        let maxQueuedBytes = 8 << 20
        /// Signed bytes committed together in one block, at most (one batch always is): two record
        /// batches, or a run of registrations.
        let maxBlockBytes = 5 << 18

        init(submit: @escaping ([Transaction]) throws -> [Submission], progress: @escaping (Int) -> Void) {
            self.submit = submit
            self.progress = progress
            let t = Thread { [self] in run() }
            t.name = "tally-ingest-commit"
            t.start()
        }

        /// Queues `tx` (waits while too much is queued); `what` names it in the error if it is refused.
        func enqueue(_ tx: Transaction, records: Int, types: [String: Int], what: String) throws {
            try cond.withLock {
                while !queue.isEmpty && queuedBytes + tx.bytes.count > maxQueuedBytes && failure == nil { cond.wait() }
                if let f = failure { throw f }
                queue.append(Job(tx: tx, records: records, types: types, what: what))
                queuedBytes += tx.bytes.count
                cond.broadcast()
            }
        }

        /// Waits for every queued batch; returns what was committed, or throws the first refusal.
        func finish() throws -> (transactions: Int, loaded: [String: Int]) {
            try cond.withLock {
                while (!queue.isEmpty || busy) && failure == nil { cond.wait() }
                if let f = failure { throw f }
                return (transactions, loaded)
            }
        }

        func stop() { cond.withLock { stopped = true; cond.broadcast() } }

        private func run() {
            while true {
                // Every batch waiting is committed together, in one block: one SQLite transaction and
                // one fsync for them. Each batch is still its own signed transaction, refused or
                // committed on its own; the first refusal stops the load.
                let jobs: [Job]? = cond.withLock {
                    while queue.isEmpty && !stopped { cond.wait() }
                    guard !stopped || !queue.isEmpty, failure == nil else { return nil }
                    busy = true
                    var n = 1, bytes = queue[0].tx.bytes.count
                    while n < queue.count, bytes + queue[n].tx.bytes.count <= maxBlockBytes {
                        bytes += queue[n].tx.bytes.count
                        n += 1
                    }
                    defer {
                        queue.removeFirst(n)
                        queuedBytes -= bytes
                        cond.broadcast()
                    }
                    return Array(queue.prefix(n))
                }
                guard let jobs else { return }
                do {
                    let out = try submit(jobs.map(\.tx))
                    for (job, o) in zip(jobs, out) {
                        if let e = o.error { throw FHIRError("\(job.what) was refused: \(e)") }
                    }
                    let d: Int = cond.withLock {
                        for job in jobs {
                            transactions += 1
                            for (t, n) in job.types { loaded[t, default: 0] += n }
                            done += job.records
                        }
                        busy = false
                        cond.broadcast()
                        return done
                    }
                    progress(d)
                } catch {
                    cond.withLock { failure = error; busy = false; queue.removeAll(); queuedBytes = 0; cond.broadcast() }
                    return
                }
            }
        }
    }

    private func previouslyIngestedPatient(_ fhirID: String) throws -> String? {
        try ledger.value(StateKey.record(identity.recordKey(org: options.org, type: "Patient", sourceID: fhirID)))?["patient"]?.stringValue
    }

    /// The quarantine file keeps each bad line with its origin and reason, for the data steward.
    /// It holds source data, so it is written owner-only, like the node's other private files.
    private func writeQuarantine(_ q: [Quarantined], lines: [Line], to path: String) throws {
        let byPosition = Dictionary(lines.map { ("\($0.file):\($0.number)", $0.text) }, uniquingKeysWith: { a, _ in a })
        var out = ""
        for item in q {
            let entry: JSON = ["file": .string(item.file), "line": .int(Int64(item.line)), "reason": .string(item.reason),
                               "content": .string(String(byPosition["\(item.file):\(item.line)"] ?? ""))]
            out += entry.canonicalString + "\n"
        }
        // Everything valid is committed by now; a quarantine that cannot be written must still not go
        // unnoticed (a re-run adds nothing and quarantines the same lines again).
        guard FileManager.default.createFile(atPath: path, contents: Data(out.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw FHIRError("could not write the quarantine file \(path) (\(q.count) lines set aside; the valid lines are committed, and a re-run quarantines them again)")
        }
    }
}

enum FHIRResourceTypes {
    /// FHIR R4 resource types that may appear in a bulk export (those Tally does not ingest are counted, not quarantined).
    static let all: Set<String> = [
        "Account", "AllergyIntolerance", "Appointment", "Binary", "CarePlan", "CareTeam", "Claim", "ClaimResponse", "Communication",
        "Condition", "Coverage", "Device", "DiagnosticReport", "DocumentReference", "Encounter", "ExplanationOfBenefit",
        "FamilyMemberHistory", "Goal", "ImagingStudy", "Immunization", "Location", "Medication", "MedicationAdministration",
        "MedicationDispense", "MedicationRequest", "MedicationStatement", "Observation", "Organization", "Patient", "Practitioner",
        "PractitionerRole", "Procedure", "Provenance", "RelatedPerson", "ServiceRequest", "Specimen", "SupplyDelivery",
    ]
}
