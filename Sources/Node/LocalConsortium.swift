import Consensus
import Federation
import Foundation
import Ledger
import NodeAPI

/// A consortium of `tally node start` processes on loopback, for `tally demo` and end-to-end tests:
/// creates each member's node directory and the genesis, starts and stops the processes, and acts as
/// each organisation's operator (signing with that organisation's keys, submitting through the API).
public final class LocalConsortium {
    public struct MemberSpec: Sendable {
        public var org: String
        public var kind: MemberKind
        public var voting: Bool
        /// Synthetic patients in this member's custody.
        public var patients: Int
        public init(org: String, kind: MemberKind, voting: Bool = true, patients: Int = 0) {
            self.org = org
            self.kind = kind
            self.voting = voting
            self.patients = patients
        }
    }

    public static let demoMembers: [MemberSpec] = [
        MemberSpec(org: "general-hospital", kind: .hospital, patients: 2600),
        MemberSpec(org: "city-medical", kind: .hospital, patients: 1400),
        MemberSpec(org: "valley-clinic", kind: .clinic, patients: 600),
        MemberSpec(org: "healthinsure", kind: .insurer),
        MemberSpec(org: "pharmacorp", kind: .pharma),
        MemberSpec(org: "state-health", kind: .publicHealth, voting: false),
    ]

    public let root: URL
    public let specs: [MemberSpec]
    public let executable: String
    /// Working directory of the node processes (where Queries/valuesets is found).
    public let workingDirectory: String
    public private(set) var genesis: Genesis!
    public private(set) var directories: [String: NodeDirectory] = [:]
    public private(set) var apis: [String: String] = [:]
    private var raftAddresses: [String: String] = [:]
    private var processes: [String: Process] = [:]
    private var signers: [String: TransactionSigner] = [:]
    private(set) var secret: [UInt8] = []
    /// The nodes' log level (`tally node start --log-level`); logs go to ROOT/ORG.log.
    public var logLevel = "info"
    let log: (String) -> Void

    public init(root: URL, specs: [MemberSpec], executable: String, workingDirectory: String, log: @escaping (String) -> Void = { _ in }) {
        self.root = root
        self.specs = specs
        self.executable = executable
        self.workingDirectory = workingDirectory
        self.log = log
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }

    /// Node directories with fresh keys, one genesis naming them all, each joined; loopback ports.
    public func create(params: ConsortiumParams = ConsortiumParams()) throws {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        var members: [Member] = []
        for s in specs {
            let d = try NodeDirectory.create(at: root.appendingPathComponent(s.org).path, org: s.org, name: s.org, kind: s.kind, voting: s.voting)
            directories[s.org] = d
            members.append(try d.member())
        }
        genesis = Genesis(chain: "demo-consortium", time: Clock.wallMillis() - 60_000, params: params, members: members)
        secret = NodeDirectory.randomSecret()
        for s in specs { try directories[s.org]!.join(genesis: genesis, consortiumSecret: secret) }
        let ports = try LoopbackPorts.reserve(specs.count * 2)
        for (i, s) in specs.enumerated() {
            raftAddresses[s.org] = "127.0.0.1:\(ports[2 * i])"
            apis[s.org] = "127.0.0.1:\(ports[2 * i + 1])"
        }
    }

    /// Starts a member's node process and waits until its API answers.
    public func start(_ org: String, tickMillis: Int = 50) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.currentDirectoryURL = URL(fileURLWithPath: workingDirectory)
        var args = ["node", "start", "--dir", directories[org]!.url.path, "--listen", raftAddresses[org]!, "--api", apis[org]!,
                    "--tick-millis", String(tickMillis), "--log-level", logLevel]
        for s in specs where s.org != org { args += ["--peer", "\(s.org)=\(raftAddresses[s.org]!)/\(apis[s.org]!)"] }
        p.arguments = args
        let logURL = root.appendingPathComponent("\(org).log")
        if !FileManager.default.fileExists(atPath: logURL.path) { FileManager.default.createFile(atPath: logURL.path, contents: nil) }
        let h = try FileHandle(forWritingTo: logURL)
        h.seekToEndOfFile()
        p.standardOutput = h
        p.standardError = h
        try p.run()
        processes[org] = p
        guard poll(seconds: 30, { (try? HTTP.request("GET", apis[org]!, "/v1/status", timeout: 2))?.0 == 200 }) else {
            throw Failure("\(org)'s node did not come up; see \(logURL.path)")
        }
    }

    public func startAll() throws { for s in specs { try start(s.org) } }

    /// Stops a member's node: SIGTERM (graceful) or SIGKILL.
    public func stop(_ org: String, signal: Int32 = SIGTERM) {
        guard let p = processes[org] else { return }
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        processes[org] = nil
    }

    public func stopAll() { for s in specs { stop(s.org) } }

    public func isRunning(_ org: String) -> Bool { processes[org] != nil }

    public func status(_ org: String) -> JSON? {
        guard let (code, body) = try? HTTP.request("GET", apis[org]!, "/v1/status", timeout: 3), code == 200 else { return nil }
        return try? JSON.parse(Array(body.utf8))
    }

    /// The current leader's organisation, waiting (≤ 30 s) for one to be elected.
    public func leader() throws -> String {
        var found: String?
        _ = poll(seconds: 30) {
            found = specs.map(\.org).first { isRunning($0) && status($0)?["role"]?.stringValue == "leader" }
            return found != nil
        }
        guard let l = found else { throw Failure("no leader elected within 30 s") }
        return l
    }

    /// Waits until every running node has applied `height`.
    public func waitForHeight(_ height: Int64, seconds: Double = 60) -> Bool {
        poll(seconds: seconds) { specs.filter { isRunning($0.org) }.allSatisfy { (status($0.org)?["height"]?.intValue ?? -1) >= height } }
    }

    /// Waits (≤ `seconds`) until every running node has no query outcome left to record and all
    /// stand at one height: nothing is still on its way to the ledger. Returns that height, or nil.
    public func waitUntilSettled(seconds: Double = 60) -> Int64? {
        var settled: Int64?
        _ = poll(seconds: seconds) {
            let all = specs.filter { isRunning($0.org) }.map { status($0.org) }
            guard !all.isEmpty, all.allSatisfy({ $0 != nil }) else { return false }
            let heights = Set(all.map { $0!["height"]?.intValue ?? -1 })
            guard heights.count == 1, all.allSatisfy({ ($0!["pending_outcomes"]?.intValue ?? 0) == 0 }) else { return false }
            settled = heights.first
            return true
        }
        return settled
    }

    // MARK: acting as each organisation

    /// Forgets the cached signers, after other programs (the CLI) signed for the organisations.
    public func refreshSigners() { signers.removeAll() }

    /// The organisation's own signer (nonces continue from its ledger copy).
    public func signer(_ org: String) throws -> TransactionSigner {
        if let s = signers[org] { return s }
        let d = directories[org]!
        let ledger = try d.openLedger()
        let s = TransactionSigner(chain: genesis.chain, identity: org, key: try d.keys().signing, firstNonce: try ledger.nextNonce(for: org))
        signers[org] = s
        return s
    }

    /// Submits transactions through the leader in batches (≤ 1,000), in order; returns their outcomes.
    @discardableResult
    public func submit(_ txs: [Transaction]) throws -> [JSON] {
        var out: [JSON] = []
        var i = 0
        while i < txs.count {
            let chunk = Array(txs[i..<min(i + 1000, txs.count)])
            var body: [UInt8] = []
            for t in chunk {
                let n = UInt32(t.bytes.count)
                body += [UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)] + t.bytes
            }
            var results: [JSON]?
            for _ in 0..<20 {
                let l = try leader()
                guard let (code, text) = try? HTTP.request("POST", apis[l]!, "/v1/transactions/batch", body: body, timeout: 90),
                      let j = try? JSON.parse(Array(text.utf8)) else { continue }
                if code == 200, let r = j["results"]?.arrayValue { results = r; break }
                if code != 421 { throw Failure("batch refused (HTTP \(code)): \(j["error"]?.stringValue ?? text)") }
            }
            guard let r = results else { throw Failure("no leader took the batch") }
            out += r
            i += chunk.count
        }
        return out
    }

    /// Submits and requires every transaction to commit.
    @discardableResult
    public func commit(_ txs: [Transaction]) throws -> [JSON] {
        let out = try submit(txs)
        for (i, r) in out.enumerated() where r["status"]?.stringValue != "committed" {
            throw Failure("\(txs[i].body.op) by \(txs[i].body.sender) not committed: \(r["error"]?.stringValue ?? r.canonicalString)")
        }
        return out
    }

    /// Enrols a user of `org` with `role`; returns its signer.
    public func enroll(_ org: String, _ name: String, role: String) throws -> TransactionSigner {
        let key = SigningKey()
        try commit([try signer(org).sign("identity.enroll", ["name": .string(name), "role": .string(role), "key": .string(key.publicKey.base64)])])
        return TransactionSigner(chain: genesis.chain, identity: "\(org)/\(name)", key: key)
    }

    /// Loads each custodian's synthetic population: patients registered by a physician, their records
    /// sealed for the custodian alone, and (for a `consentShare` of them) consent to `trialScope` for
    /// `trialGrantee`, granted through the hospital's patient portal. Returns records per member.
    public func loadPopulations(today: String, seed: UInt64, trialGrantee: String, trialScope: String, consentShare: Double,
                                progress: (String) -> Void = { _ in }) throws -> [String: (patients: Int, records: Int)] {
        let ids = PatientIdentity(consortiumSecret: secret)
        let encryptionKeys = genesis.members.reduce(into: [String: String]()) { $0[$1.id] = $1.encryptionKey }
        var out: [String: (Int, Int)] = [:]
        var rng = SeededGenerator(seed: seed)
        for s in specs where s.patients > 0 {
            let doctor = try enroll(s.org, "registrar", role: Role.physician)
            let portal = try enroll(s.org, "patient-portal", role: Role.patientPortal)
            let people = SyntheticPopulation(seed: seed, today: today).patients(s.patients, site: s.org)
            var registrations: [Transaction] = []
            var items: [RecordBatch.Item] = []
            var consents: [Transaction] = []
            let expires = Clock.wallMillis() + 365 * 86_400_000
            for person in people {
                let pid = ids.pseudonym(system: "urn:\(s.org):mrn", identifier: person.identifier)
                registrations.append(doctor.sign("patient.register", ["patient": .string(pid),
                    "demographic_hash": .string(ids.demographicHash(family: person.family, given: "Synthetic", birthDate: person.birthDate))]))
                items += person.records.map { var it = $0; it.patient = pid; return it }
                if Double.random(in: 0..<1, using: &rng) < consentShare {
                    consents.append(portal.sign("consent.grant", ["patient": .string(pid), "grantee": .string(trialGrantee), "scope": .string(trialScope),
                                                                  "expires": .int(expires)]))
                }
            }
            try commit(registrations)
            var batches: [Transaction] = []
            var i = 0
            let serviceSecret = ServiceCommitment.secret(try directories[s.org]!.keys())
            while i < items.count {
                let chunk = Array(items[i..<min(i + 500, items.count)])
                let args = try RecordBatch.arguments(chain: genesis.chain, keysetID: "ks-\(s.org)-\(batches.count)", readers: [s.org: encryptionKeys[s.org]!],
                                                     writers: [s.org], items: chunk, serviceSecret: serviceSecret)
                batches.append(doctor.sign("record.put", args))
                i += chunk.count
            }
            try commit(batches)
            try commit(consents)
            progress("  \(s.org): \(people.count) patients, \(items.count) sealed records in \(batches.count) batches, \(consents.count) trial consents")
            out[s.org] = (people.count, items.count)
        }
        return out
    }

    /// A policy file as a policy document: `expires_in_days` made absolute, templates pinned by SHA-256.
    public static func policyDocument(file: String, root: String) throws -> JSON {
        guard let data = FileManager.default.contents(atPath: file) else { throw Failure("cannot read \(file)") }
        let raw: JSON
        do { raw = try JSON.parse(Array(data)) } catch { throw Failure("\(file) is not valid policy JSON (integers only): \(error)") }
        guard case .object(var doc) = raw else { throw Failure("\(file) must hold a JSON object") }
        if let days = doc["expires_in_days"]?.intValue {
            doc["expires"] = .int(Clock.wallMillis() + days * 86_400_000)
            doc["expires_in_days"] = nil
        }
        if let templates = doc["templates"]?.arrayValue {
            doc["templates"] = .array(try templates.map { t in
                guard let f = t["file"]?.stringValue else { return t }
                guard let bytes = FileManager.default.contents(atPath: root + "/" + f) else { throw Failure("template \(f) not found under \(root)") }
                return t.setting("sha256", .string(Hash32.sha256(Array(bytes)).hex))
            })
        }
        return .object(doc)
    }

    /// Runs a federated query as `org` through its node; returns the merged result.
    public func query(as org: String, policy: String, sql: String, parameters: [String: String] = [:], purpose: String = "") throws -> FederatedResult {
        let body: JSON = ["policy": .string(policy), "sql": .string(sql), "parameters": .object(parameters.mapValues { .string($0) }),
                          "purpose": .string(purpose)]
        let (code, text) = try HTTP.signed("POST", apis[org]!, "/v1/queries", body: Array(body.canonicalString.utf8), identity: org,
                                           key: try directories[org]!.keys().signing, timeout: 120)
        guard code == 200, let j = try? JSON.parse(Array(text.utf8)) else {
            throw Failure("query failed (HTTP \(code)): \((try? JSON.parse(Array(text.utf8)))?["error"]?.stringValue ?? text)")
        }
        return try FederatedResult(json: j)
    }
}

/// Waits for a condition with a deadline, polling every 25 ms (bounded; never a fixed sleep).
public func poll(seconds: Double, _ cond: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if cond() { return true }
        usleep(25_000)
    }
    return cond()
}
