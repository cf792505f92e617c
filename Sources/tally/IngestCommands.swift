import ArgumentParser
import Foundation
import Ingest
import Ledger
import Node

struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Load EHR exports into the ledger as sealed records.",
        subcommands: [FHIR.self]
    )

    struct FHIR: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fhir",
            abstract: "Ingest a FHIR R4 bulk export (NDJSON files or folders of them).",
            discussion: """
            Reads Patient, Encounter, Condition, MedicationRequest (and Medication), Procedure, Immunization and
            Observation. Records are sealed for this organisation and any --share-with readers, committed in
            batches under one signature and one wrapped data key. Bad lines go to DIR/quarantine/*.ndjson with
            file, line and reason. Re-running an export adds nothing; an interrupted run completes on re-run.
            """
        )
        @Option(help: "Node directory.") var dir: String
        @Option(help: "Another member organisation that may read these records (repeatable).") var shareWith: [String] = []
        @Option(help: "Records per transaction.") var batch: Int = 1000
        @Option(name: .customLong("as"), help: "A data steward of the organisation (DIR/keys/users/NAME.key) who records the export's research consents (FHIR Consent → consent.grant); without it Consent resources are counted, not loaded.")
        var steward: String?
        @Argument(help: "NDJSON files or folders.") var paths: [String]

        func run() throws {
            let node = try SoloNode(directory: NodeDirectory(dir))
            _ = try node.views()
            var readers: [String: String] = [:]
            for org in [node.keys.org] + shareWith {
                let onLedger = try node.ledger.value(StateKey.member(org)).flatMap { try? Member(json: $0) }
                guard let m = node.genesis.members.first(where: { $0.id == org }) ?? onLedger else {
                    throw fail("\(org) is not a member of the consortium")
                }
                readers[org] = m.encryptionKey
            }
            var options = FHIRIngest.Options(org: node.keys.org, readers: readers)
            options.recordsPerTransaction = batch
            options.serviceSecret = ServiceCommitment.secret(node.keys)
            options.agreementKey = node.keys.agreement
            if let steward {
                let identity = "\(node.keys.org)/\(steward)"
                let key: SigningKey
                do { key = try node.directory.userKey(steward) } catch let e as NodeDirectory.Error { throw fail(e.description) }
                guard let who = try node.ledger.value(StateKey.identity(identity)), who["role"]?.stringValue == Role.dataSteward,
                      who["status"]?.stringValue == "active" else {
                    throw fail("\(identity) is not an active data steward on the ledger (tally identity enroll --role data-steward)")
                }
                options.consentSigner = TransactionSigner(chain: node.genesis.chain, identity: identity, key: key, firstNonce: try node.ledger.nextNonce(for: identity))
            }
            let qdir = node.directory.url.appendingPathComponent("quarantine")
            try FileManager.default.createDirectory(at: qdir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            options.quarantinePath = qdir.appendingPathComponent("\(Clock.wallMillis()).ndjson").path
            let ingest = FHIRIngest(ledger: node.ledger, signer: try node.organisationSigner(),
                                    identity: PatientIdentity(consortiumSecret: try node.directory.consortiumSecret()), options: options) { try node.submit($0) }
            let tty = isatty(STDERR_FILENO) == 1
            try node.followViewsInBackground()
            let s = try ingest.ingest(paths: paths) { p in
                guard tty else { return }
                let rate = Double(p.done) / max(p.elapsed, 0.001)
                let eta = rate > 0 ? Double(p.total - p.done) / rate : 0
                FileHandle.standardError.write(Data(String(format: "\r%d/%d records, %.0f/s, ETA %.0f s   ", p.done, p.total, rate, eta).utf8))
            }
            if tty { FileHandle.standardError.write(Data("\n".utf8)) }
            try node.finishFollowing()
            print("read \(s.linesRead) lines in \(String(format: "%.1f", s.seconds)) s; \(s.transactions) transactions")
            for (t, n) in s.loaded.sorted(by: { $0.key < $1.key }) { print("  loaded      \(t.padding(toLength: 18, withPad: " ", startingAt: 0)) \(n)") }
            for (t, n) in s.updated.sorted(by: { $0.key < $1.key }) { print("  updated     \(t.padding(toLength: 18, withPad: " ", startingAt: 0)) \(n)") }
            for (t, n) in s.alreadyPresent.sorted(by: { $0.key < $1.key }) { print("  already in  \(t.padding(toLength: 18, withPad: " ", startingAt: 0)) \(n)") }
            for (t, n) in s.notIngested.sorted(by: { $0.key < $1.key }) { print("  not read    \(t.padding(toLength: 18, withPad: " ", startingAt: 0)) \(n)") }
            if s.consentsNeedingSteward > 0 {
                let n = s.consentsNeedingSteward
                print("  (\(n) Consent resource(s) not loaded: recording consents needs --as a data steward of \(node.keys.org))")
            }
            if !s.quarantined.isEmpty {
                print("  quarantined \(s.quarantined.count) lines → \(options.quarantinePath!)")
                for q in s.quarantined.prefix(10) { print("    \(q.file):\(q.line): \(q.reason)") }
            }
        }
    }
}

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a seeded synthetic population as FHIR R4 bulk NDJSON, one folder per site (same seed, same bytes)."
    )
    @Option(help: "Patients in all.") var patients: Int = 1000
    @Option(help: "Comma-separated site (organisation) ids.") var sites: String = "general-hospital"
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Option(help: "The reference day (YYYY-MM-DD) that dates count back from.") var today: String = "2026-11-22"
    @Option(help: "Output folder.") var out: String
    @Option(help: "The trial some patients consent to (FHIR Consent, scope trial:ID).") var trial: String = "cardio-2026"
    @Option(help: "The trial's sponsor (a member organisation id), the consents' grantee.") var sponsor: String = "pharmacorp"
    @Option(help: "Share of each site's patients who consent to the trial (0 writes no Consent).") var consentShare: Double = 0.3

    func validate() throws {
        guard (0...1).contains(consentShare) else { throw ValidationError("--consent-share is a fraction between 0 and 1") }
        guard Member.isValidID(trial), Member.isValidID(sponsor) else { throw ValidationError("--trial and --sponsor are lowercase letters, digits and '-'") }
        guard patients > 0, patients <= 10_000_000 else { throw ValidationError("--patients must be between 1 and 10,000,000") }
    }

    func run() throws {
        let t = consentShare > 0 ? FHIRSynth.Trial(id: trial, sponsor: sponsor, share: consentShare) : nil
        let s = try FHIRSynth.write(patients: patients, sites: sites.split(separator: ",").map(String.init), seed: seed, today: today, trial: t, to: out)
        for (t, n) in s.resources.sorted(by: { $0.key < $1.key }) { print("\(t.padding(toLength: 18, withPad: " ", startingAt: 0)) \(n)") }
        print("wrote \(s.files.count) files under \(out)")
    }
}
