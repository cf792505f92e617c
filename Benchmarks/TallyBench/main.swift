import Dispatch
import Foundation
import Ledger
import SQLiteStore
import DeidSQL
import Federation
import Ingest
import Warehouse

// Ledger benchmarks. Run with:  swift run -c release TallyBench ledger [--transactions N]
// Each figure is printed next to a ceiling measured in the same run, as a ratio.

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}

func fmt(_ v: Double) -> String { String(format: "%10.0f", v) }

struct Consortium {
    let dir: URL
    let hospital = OrganisationKeys(org: "general-hospital")
    let genesis: Genesis

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tally-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var params = ConsortiumParams()
        params.maxBlockTransactions = 5000
        params.maxTransactionBytes = 8 << 20
        genesis = Genesis(chain: "bench", time: 1_790_000_000_000, params: params, members: [
            Member(id: "general-hospital", name: "GH", kind: .hospital, signingKey: hospital.signing.publicKey.base64, encryptionKey: hospital.agreement.publicKeyBase64),
        ])
    }

    func ledger(_ name: String) throws -> Ledger { try Ledger.create(path: dir.appendingPathComponent(name).path, genesis: genesis) }
}

func registrations(_ c: Consortium, count: Int, firstNonce: Int64 = 0) -> [Transaction] {
    let signer = TransactionSigner(chain: c.genesis.chain, identity: "general-hospital", key: c.hospital.signing, firstNonce: firstNonce, clock: { 1_790_000_000_000 })
    let ids = PatientIdentity(consortiumSecret: Array(repeating: 3, count: 32))
    return (0..<count).map { i in
        signer.sign("patient.register", ["patient": .string(ids.pseudonym(system: "urn:bench", identifier: "\(firstNonce)-\(i)")),
                                         "demographic_hash": .string(ids.demographicHash(family: "f\(i)", given: "g", birthDate: "1970-01-01"))])
    }
}

/// The sequential stage alone: signature-checked transactions executed and committed in blocks.
/// Returns the seconds taken.
func commitAdmitted(_ admitted: [Result<Transaction, TransactionError>], into ledger: Ledger, proposer: OrganisationKeys, blockSize: Int) throws -> Double {
    var tick: Int64 = 1_790_000_000_000
    return try seconds {
        var i = 0
        while i < admitted.count {
            tick += 1
            _ = try ledger.submit(admitted: Array(admitted[i..<min(i + blockSize, admitted.count)]), proposer: proposer, time: tick)
            i += blockSize
        }
    }
}

func ledgerBenchmark(transactions n: Int, blockSize: Int, records: Int, rounds: Int) throws {
    let c = try Consortium()
    defer { try? FileManager.default.removeItem(at: c.dir) }
    let cores = ProcessInfo.processInfo.activeProcessorCount
    print("Tally ledger benchmark — release build, \(cores) cores, \(n) transactions, blocks of \(blockSize)")
    print(String(repeating: "-", count: 96))

    let txs = registrations(c, count: n)

    // Ceiling 1: Ed25519 verification of the same transactions on all cores: rate and CPU per transaction.
    func measureVerifyAllCores() -> (rate: Double, cpu: Double) {
        let (tv, cpu) = cpuDuring([getpid()]) { seconds {
            var ok = [Bool](repeating: false, count: txs.count)
            ok.withUnsafeMutableBufferPointer { buf in
                let out = buf
                DispatchQueue.concurrentPerform(iterations: cores * 4) { ch in
                    var i = ch
                    while i < txs.count { out[i] = txs[i].verifySignature(); i += cores * 4 }
                }
            }
            precondition(ok.allSatisfy { $0 })
        } }
        return (Double(n) / tv, cpu / Double(n))
    }
    let tv1 = seconds { for tx in txs.prefix(2000) { _ = tx.verifySignature() } }
    let verifyOneCore = 2000 / tv1

    // Ceiling 2: raw SQLite insert of the same rows (transaction row, state row) into the ledger
    // file's own tables and indexes (`Ledger.fileSchemaSQL`), same pragmas, no verification or contracts.
    let raw = try Database(path: c.dir.appendingPathComponent("raw.sqlite").path)
    try raw.execute("PRAGMA page_size=\(Ledger.filePageSize); PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
    try raw.execute(Ledger.fileSchemaSQL)
    let rows = txs.map { tx -> (String, String) in ("patient/" + tx.body.args["patient"]!.stringValue!, tx.body.args.canonicalString) }
    let (tr, rawCPU) = try cpuDuring([getpid()]) { try seconds {
        let it = try raw.prepare("INSERT INTO transactions(seq, hash, hash_key, height, idx, sender, nonce, op, bytes, result) VALUES (?,?,?,?,?,?,?,?,?,?)")
        let hs = try raw.prepare("INSERT INTO state_history(key, key_hash, by_key, height, version, value) VALUES (?,?,?,?,1,?)")
        var i = 0
        while i < txs.count {
            let end = min(i + blockSize, txs.count)
            try raw.transaction {
                for j in i..<end {
                    let tx = txs[j]
                    let h = Int64(j / blockSize + 1)
                    try it.run([.integer(Ledger.transactionKey(height: h, index: j - i)), .blob(tx.hash.bytes), .integer(tx.hash.key), .integer(h), .integer(Int64(j - i)), .text(tx.body.sender), .integer(tx.body.nonce),
                                .text(tx.body.op), .blob(tx.bytes), .text("{}")])
                    try hs.run([.text(rows[j].0), .integer(StateKey.hash(rows[j].0)), .integer(StateKey.isScannable(rows[j].0) ? 1 : 0), .integer(h), .text(rows[j].1)])
                }
            }
            i = end
        }
    } }
    let rawRate = Double(n) / tr

    if ProcessInfo.processInfo.environment["TALLY_BENCH_PHASES"] != nil {
        let td = seconds { for w in txs.map(\.bytes) { _ = try? Transaction(decoding: w, maxBytes: 1 << 20) } }
        print("phase: decode \(Double(n) / td)/s")
        let te = seconds { for tx in txs { _ = tx.body.json.canonicalBytes } }
        print("phase: body encode \(Double(n) / te)/s")
        let ts = try commitAdmitted(Transaction.admit(txs.map(\.bytes), maxBytes: 1 << 20), into: try c.ledger("phases.sqlite"),
                                    proposer: c.hospital, blockSize: blockSize)
        print("phase: execute+commit (signatures pre-checked) \(Double(n) / ts)/s")
    }

    // The ledger: decode from wire bytes, verify, execute contracts, build and sign blocks, commit durably.
    // This VM's speed drifts by a third within a minute (other tenants), in CPU time too, so one ledger
    // run set against ceilings measured seconds apart lands anywhere from 0.6× to 0.9×. So the ledger
    // runs `rounds` times, each on a fresh file and between two measurements of ceiling A (rounds and
    // ceilings alternate); each round is compared with the mean of the ceilings either side of it, every
    // round is printed, and the figure is the median round.
    let wire = txs.map(\.bytes)
    let batchesOfWire = stride(from: 0, to: wire.count, by: blockSize).map { Array(wire[$0..<min($0 + blockSize, wire.count)]) }
    struct Round { var rate: Double; var cpu: Double; var busy: Double; var ceiling: Double; var ceilingCPU: Double; var before: Double; var after: Double }
    var results: [Round] = []
    var previous = measureVerifyAllCores()
    for r in 0..<rounds {
        let ledger = try c.ledger("ledger-\(r).sqlite")
        var committed = 0
        var clockTick: Int64 = 1_790_000_000_000
        // CPU as well as wall time: with every core busy the ratio is bounded by verify ÷ (verify + the rest);
        // cores left idle (waiting on the disk, or a pipeline stage waiting on the other) are lost ratio.
        let (tl, ledgerCPU) = try cpuDuring([getpid()]) {
            try seconds {
                let out = try ledger.submitPipelined(batchesOfWire, proposer: c.hospital, time: { clockTick += 1; return clockTick })
                committed = out.joined().filter { $0.receipt != nil }.count
            }
        }
        precondition(committed == n, "only \(committed) of \(n) committed")
        let next = measureVerifyAllCores()
        let round = Round(rate: Double(n) / tl, cpu: ledgerCPU / Double(n), busy: ledgerCPU / tl, ceiling: (previous.rate + next.rate) / 2,
                          ceilingCPU: (previous.cpu + next.cpu) / 2, before: previous.rate, after: next.rate)
        results.append(round)
        print(String(format: "round %d: solo ledger %6.0f/s, ceiling A %6.0f/s (before %6.0f, after %6.0f): %.2f×; by CPU %.1f µs against %.1f µs: %.2f×",
                     r + 1, round.rate, round.ceiling, round.before, round.after, round.rate / round.ceiling, round.cpu * 1e6, round.ceilingCPU * 1e6,
                     round.ceilingCPU / round.cpu))
        previous = next
    }
    // For an even number of rounds, the lower of the two middle ones: no round's luck lifts the figure.
    let middle = (results.count - 1) / 2
    let median = results.sorted { $0.rate / $0.ceiling < $1.rate / $1.ceiling }[middle]
    let ledgerRate = median.rate, verifyRate = median.ceiling
    let cpuRatios = results.map { $0.ceilingCPU / $0.cpu }.sorted()

    // Batched records: one signature and one wrapped data key per transaction of `records` sealed records.
    let batchLedger = try c.ledger("batch.sqlite")
    let setupSigner = TransactionSigner(chain: c.genesis.chain, identity: "general-hospital", key: c.hospital.signing, clock: { 1_790_000_000_000 })
    let ids = PatientIdentity(consortiumSecret: Array(repeating: 3, count: 32))
    let patients = (0..<200).map { ids.pseudonym(system: "urn:bench", identifier: "p\($0)") }
    _ = try batchLedger.submit(patients.map { setupSigner.sign("patient.register", ["patient": .string($0), "demographic_hash": .string(String(repeating: "a", count: 64))]) },
                               proposer: c.hospital, time: 1_790_000_000_000)
    let payload = Array(String(repeating: "x", count: 400).utf8) // a typical encounter resource, ~0.4 KiB
    let batches = max(1, 20_000 / records)
    let readers = ["general-hospital": c.hospital.agreement.publicKeyBase64]
    var recordsCommitted = 0
    let tb = try seconds {
        for b in 0..<batches {
            let items = (0..<records).map { RecordBatch.Item(key: "enc-\(b)-\($0)", patient: patients[$0 % patients.count], type: "encounter", plaintext: payload) }
            let args = try RecordBatch.arguments(chain: c.genesis.chain, keysetID: "ks-\(b)", readers: readers, writers: ["general-hospital"], items: items)
            let out = try batchLedger.submit([setupSigner.sign("record.put", args)], proposer: c.hospital, time: 1_790_000_000_001 + Int64(b))
            precondition(out[0].receipt != nil, "\(out[0].error!)")
            recordsCommitted += records
        }
    }
    let recordRate = Double(recordsCommitted) / tb

    print("figure                                              per second    ceiling (same run)     ratio")
    print("Ed25519 verify, 1 core                            \(fmt(verifyOneCore))")
    print("Ed25519 verify, all cores (ceiling A)             \(fmt(verifyRate))   (the median round's: before \(Int(median.before)), after \(Int(median.after)))")
    print("raw SQLite insert of the same rows (ceiling B)    \(fmt(rawRate))")
    print("solo ledger: committed signed transactions        \(fmt(ledgerRate))   A \(fmt(verifyRate))   \(String(format: "%5.2f", ledgerRate / verifyRate))×   (median of \(rounds) rounds)")
    print("                                                                    B \(fmt(rawRate))   \(String(format: "%5.2f", ledgerRate / rawRate))×")
    // CPU time excludes the hypervisor's steal, so CPU per transaction is the steadier figure, and it
    // bounds the ratio whatever the scheduling: every transaction costs at least its verification plus
    // its raw insert, all on the same cores.
    let iCPU = rawCPU / Double(n)
    print(String(format: "    CPU per transaction (median round): solo ledger %.1f µs (%.2f of %d cores busy), ceiling A %.1f µs, ceiling B %.1f µs",
                 median.cpu * 1e6, median.busy, cores, median.ceilingCPU * 1e6, iCPU * 1e6))
    print(String(format: "    by CPU: solo ledger %.2f× of ceiling A (median round by CPU; rounds %@); verification + raw insert alone would allow %.2f×",
                 cpuRatios[middle], cpuRatios.map { String(format: "%.2f", $0) }.joined(separator: ", "),
                 median.ceilingCPU / (median.ceilingCPU + iCPU)))
    print("batched sealed records (\(records)/tx, 0.4 KiB each)     \(fmt(recordRate))   A \(fmt(verifyRate))   \(String(format: "%5.2f", recordRate / verifyRate))×")
    print(String(repeating: "-", count: 96))
    print("goal: solo ledger ≥ 0.80× ceiling A")
}

/// Member evaluation: the ILI query over ≥ 1M encounters through the sandbox against plain SQLite
/// on the same file; and the incremental view update rate.
func memberBenchmark(encounters: Int, records: Int) throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tally-bench-member-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    print("Tally member benchmark — release build, \(encounters) encounters in the views")
    print(String(repeating: "-", count: 96))

    // 1. Views filled directly (the query cost is what is measured here).
    let views = try ViewStore(path: dir.appendingPathComponent("views.sqlite").path, org: "general-hospital", chain: "bench", agreementKey: AgreementKey())
    let db = views.database
    let patients = max(encounters / 5, 1)
    var rng = SystemRandomNumberGenerator()
    let fill = try seconds {
        try db.transaction {
            let ip = try db.prepare("INSERT INTO v_patients VALUES (?, ?, ?, ?, ?, ?, ?, 0, 'general-hospital')")
            let regions = ["north", "south", "east", "west"]
            for i in 0..<patients {
                let y = Int.random(in: 1930...2020, using: &rng)
                try ip.run([.text("p/\(i)"), .text("PAT-\(i)"), .text("\(y)-06-15"), .integer(Int64(y)), .text(i % 2 == 0 ? "female" : "male"), .text(regions[i % 4]), .text("021")])
            }
            let ie = try db.prepare("INSERT INTO v_encounters VALUES (?, ?, ?, 'general-hospital', ?, 'ambulatory', ?)")
            let ic = try db.prepare("INSERT INTO v_conditions VALUES (?, ?, ?, ?, ?, ?)")
            for i in 0..<encounters {
                let p = Int.random(in: 0..<patients, using: &rng)
                let day = SyntheticPopulation.day("2026-11-22", minus: Int.random(in: 0...364, using: &rng))
                try ie.run([.text("e/\(i)"), .text("E\(i)"), .text("PAT-\(p)"), .text(day), .text(regions[p % 4])])
                if Int.random(in: 0..<100, using: &rng) < 3 {
                    try ic.run([.text("c/\(i)"), .text("PAT-\(p)"), .text("E\(i)"), .text("http://hl7.org/fhir/sid/icd-10-cm"), .text("J11.1"), .text(day)])
                }
            }
        }
        try db.execute("ANALYZE")
    }
    print(String(format: "filled %d patients and %d encounters in %.1f s", patients, encounters, fill))

    let valueSets = try QueryChecker.loadValueSets(directory: "Queries/valuesets")
    let ili = try String(contentsOfFile: "Queries/ili_surveillance.sql", encoding: .utf8)
    let rw = try MemberService.rewrittenSQL(ili, valueSets: valueSets)
    let bindings: [String: SQLValue] = [":tally_now": .text("2026-11-22 12:00:00")]
    var sandboxLimits = SandboxConnection.Limits()
    sandboxLimits.deadline = .seconds(60)
    sandboxLimits.maxProgressCallbacks = .max
    let sandbox = try SandboxConnection(path: views.path, allowance: .init(tables: MemberService.sandboxTables, functions: MemberService.sandboxFunctions), limits: sandboxLimits)
    let plain = try Database(path: views.path, flags: [.readOnly])
    func plainRun() throws -> Int {
        let st = try plain.prepare(rw.sql)
        for i in 0..<st.parameterCount { try st.bind(bindings[st.parameterName(i + 1)!]!, at: i + 1) }
        var n = 0
        while try st.step() { n += 1 }
        return n
    }
    let rounds = 15
    var tPlain: [Double] = []
    var tSandbox: [Double] = []
    var rowsPlain = 0
    var rowsSandbox = 0
    for _ in 0..<rounds {
        // Interleaved, so drift of this machine's speed hits both alike.
        tPlain.append(try seconds { rowsPlain = try plainRun() })
        tSandbox.append(try seconds { rowsSandbox = try sandbox.query(rw.sql, bindings: bindings).rows.count })
    }
    precondition(rowsPlain == rowsSandbox)
    let mp = tPlain.sorted()[rounds / 2], ms = tSandbox.sorted()[rounds / 2]
    print("figure                                              median ms   baseline (same run)    ratio")
    print(String(format: "ILI query (rewritten) through the sandbox            %8.2f   plain SQLite %8.2f   %5.2f×", ms * 1000, mp * 1000, ms / mp))
    print("  (\(rowsSandbox) site rows before suppression; goal ≤ 1.10×)")

    // 2. Incremental view update: sealed records committed to a ledger, then applied to views.
    let c = try Consortium()
    defer { try? FileManager.default.removeItem(at: c.dir) }
    let ledger = try c.ledger("ledger.sqlite")
    let signer = TransactionSigner(chain: c.genesis.chain, identity: "general-hospital", key: c.hospital.signing, clock: { 1_790_000_000_000 })
    let people = SyntheticPopulation(seed: 7, today: "2026-11-22").patients(max(records / 5, 1), site: "general-hospital")
    let ids = PatientIdentity(consortiumSecret: Array(repeating: 3, count: 32))
    var items: [RecordBatch.Item] = []
    var regs: [Transaction] = []
    for person in people {
        let pid = ids.pseudonym(system: "urn:bench", identifier: person.identifier)
        regs.append(signer.sign("patient.register", ["patient": .string(pid), "demographic_hash": .string(String(repeating: "a", count: 64))]))
        items += person.records.map { var it = $0; it.patient = pid; return it }
        if items.count >= records { break }
    }
    var t: Int64 = 1_790_000_000_000
    var k = 0
    while k < regs.count {
        t += 1
        _ = try ledger.submit(Array(regs[k..<min(k + 2000, regs.count)]), proposer: c.hospital, time: t)
        k += 2000
    }
    let readers = ["general-hospital": c.hospital.agreement.publicKeyBase64]
    var b = 0
    let tCommit = try seconds {
        var i = 0
        while i < items.count {
            t += 1
            let args = try RecordBatch.arguments(chain: c.genesis.chain, keysetID: "ks-\(b)", readers: readers, writers: ["general-hospital"], items: Array(items[i..<min(i + 1000, items.count)]))
            let out = try ledger.submit([signer.sign("record.put", args)], proposer: c.hospital, time: t)
            precondition(out[0].receipt != nil)
            b += 1
            i += 1000
        }
    }
    let v2 = try ViewStore(path: c.dir.appendingPathComponent("views.sqlite").path, org: "general-hospital", chain: c.genesis.chain, agreementKey: c.hospital.agreement)
    var applied = 0
    let tViews = try seconds { applied = try v2.catchUp(ledger) }
    print(String(format: "incremental view update (decrypt + materialise)    %10.0f records/s   ledger commit of the same records %10.0f records/s   %5.2f×",
                 Double(applied) / tViews, Double(items.count) / tCommit, (Double(applied) / tViews) / (Double(items.count) / tCommit)))
    print(String(repeating: "-", count: 96))
}

let usage = "usage: TallyBench ledger [--transactions N] [--block N] [--records N] [--rounds N] | sql [DIR] [--rounds N] | member [--encounters N] [--records N] | ingest [--patients N] | warehouse [--rows N] | cluster [--seconds N] [--connections N] | federation [--rounds N] [--patients N] | scan [--encounters N] [--rounds N] | commit-only [--transactions N] [--block N]"
var args = Array(CommandLine.arguments.dropFirst())
let suite = args.first ?? "ledger"
// Every option takes a positive integer; anything else (including --help) prints the usage rather than
// silently running a benchmark with defaults.
let knownOptions: Set<String> = ["--transactions", "--block", "--records", "--rounds", "--encounters", "--patients", "--rows", "--seconds", "--connections"]
if args.contains("--help") || args.contains("-h") { print(usage); exit(0) }
do {
    var k = 1
    while k < args.count {
        if args[k].hasPrefix("-") {
            guard knownOptions.contains(args[k]), k + 1 < args.count, let v = Int(args[k + 1]), v > 0 else {
                FileHandle.standardError.write(Data("TallyBench: \(args[k]) is not an option of this tool, or lacks a positive number\n\(usage)\n".utf8))
                exit(2)
            }
            k += 2
        } else {
            k += 1
        }
    }
}
func option(_ name: String, _ def: Int) -> Int {
    if let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) { return v }
    return def
}
switch suite {
case "ledger":
    try ledgerBenchmark(transactions: option("--transactions", 50_000), blockSize: option("--block", 2000), records: option("--records", 1000), rounds: option("--rounds", 3))
case "sql":
    // Parse + validate + rewrite of every query in Queries/, beside parsing alone, in the same run.
    let dir = args.dropFirst().first(where: { !$0.hasPrefix("-") }) ?? "Queries"
    let valueSets = try QueryChecker.loadValueSets(directory: dir + "/valuesets")
    let checker = QueryChecker(valueSets: valueSets)
    let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".sql") }.sorted()
    let rounds = option("--rounds", 2000)
    print("Tally SQL benchmark — release build, \(rounds) rounds per query (goal: check < 1 ms each)")
    print("query                                    parse µs   check µs   check/parse   check/goal")
    for f in files {
        let sql = try String(contentsOfFile: dir + "/" + f, encoding: .utf8)
        _ = try checker.check(sql)
        let tp = try seconds { for _ in 0..<rounds { _ = try Parser.parse(sql) } } / Double(rounds)
        let tc = try seconds { for _ in 0..<rounds { _ = try checker.check(sql) } } / Double(rounds)
        print(f.padding(toLength: 40, withPad: " ", startingAt: 0)
              + String(format: "%9.1f  %9.1f   %9.2f×   %9.3f×", tp * 1e6, tc * 1e6, tc / tp, tc / 1e-3))
    }
case "member":
    try memberBenchmark(encounters: option("--encounters", 1_000_000), records: option("--records", 100_000))
case "ingest":
    // FHIR NDJSON → committed, sealed records with the views updated, beside parsing the same NDJSON.
    let n = option("--patients", 20_000)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tally-bench-ingest-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    // Clinical resources only (no Consent), as in the figures recorded before consents existed.
    let synth = try FHIRSynth.write(patients: n, sites: ["general-hospital"], seed: 5, today: "2026-11-22", trial: nil, to: dir.path)
    let total = synth.resources.values.reduce(0, +)
    print("Tally ingest benchmark — release build, \(n) synthetic patients, \(total) FHIR resources")
    var parsed = 0
    let tp = try seconds { parsed = try FHIRIngest.parseOnly(paths: [dir.path + "/general-hospital"]) }
    let c = try Consortium()
    defer { try? FileManager.default.removeItem(at: c.dir) }
    let ledger = try c.ledger("ledger.sqlite")
    let views = try ViewStore(path: c.dir.appendingPathComponent("views.sqlite").path, org: "general-hospital", chain: c.genesis.chain, agreementKey: c.hospital.agreement)
    var t: Int64 = 1_790_000_000_000
    // As on a node: the views follow the ledger on their own thread; the clock stops when they
    // have caught up with the last block.
    let follower = ViewFollower(views: views, ledger: ledger)
    defer { follower.stop() }
    let ingest = FHIRIngest(ledger: ledger, signer: TransactionSigner(chain: c.genesis.chain, identity: "general-hospital", key: c.hospital.signing),
                            identity: PatientIdentity(consortiumSecret: Array(repeating: 1, count: 32)),
                            options: .init(org: "general-hospital", readers: ["general-hospital": c.hospital.agreement.publicKeyBase64])) { txs in
        t += 1
        let out = try ledger.submit(txs, proposer: c.hospital, time: t)
        follower.blockCommitted()
        return out
    }
    var summary = FHIRIngest.Summary()
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let faultsBefore = usage.ru_minflt
    // CPU time as well as wall time: on this shared VM the wall-clock rate moves by ±30 % between
    // runs of one binary, the CPU spent per resource much less; 2 cores at 20,000/s allow 100 µs.
    let (ti, cpu) = try cpuDuring([getpid()]) {
        try seconds {
            summary = try ingest.ingest(paths: [dir.path + "/general-hospital"])
            try follower.wait(untilHeight: ledger.height)
        }
    }
    precondition(views.height == ledger.height)
    precondition(summary.quarantined.isEmpty && summary.loadedTotal == parsed)
    print("figure                                              per second    baseline (same run)     ratio")
    print(String(format: "ingest: NDJSON → sealed, committed, in the views   %10.0f   parse only %10.0f   %5.2f×", Double(summary.loadedTotal) / ti, Double(parsed) / tp, (Double(summary.loadedTotal) / ti) / (Double(parsed) / tp)))
    print(String(format: "CPU per resource (all threads): %.1f µs; wall %.2f s, CPU %.2f s; the goal allows %.0f µs on %d cores",
                 cpu / Double(summary.loadedTotal) * 1e6, ti, cpu, Double(ProcessInfo.processInfo.activeProcessorCount) / 20_000 * 1e6,
                 ProcessInfo.processInfo.activeProcessorCount))
    getrusage(RUSAGE_SELF.rawValue, &usage)
    // Each first touch of a page costs a fault and a zeroed page: the ingest's memory growth shows up
    // as CPU (one profile on this VM, with 139,000 faults, spent 8 % of its samples clearing pages).
    print("page faults during ingest: \(usage.ru_minflt - faultsBefore); peak resident memory of the process: \(usage.ru_maxrss / 1024) MiB")
    print("goal: ≥ 20,000 resources/s per node")
case "warehouse":
    // COPY through the mirror's libpq connection beside psql's \\copy of the same rows.
    let n = option("--rows", 200_000)
    let server = try ThrowawayPostgres()
    let pg = try PostgresConnection(server.conninfo)
    try pg.execute("CREATE TABLE bench_a (chain text, result_id bigint, region text, day date, value_set text, count bigint, suppressed boolean, sites text[])")
    try pg.execute("CREATE TABLE bench_b (LIKE bench_a)")
    let rows: [[String?]] = (0..<n).map { i in
        ["bench", String(i), ["north", "south", "east", "west"][i % 4], SyntheticPopulation.day("2026-11-22", minus: i % 365), "influenza-like-illness",
         i % 9 == 0 ? nil : String(11 + i % 90), i % 9 == 0 ? "t" : "f", "{general-hospital,city-medical}"]
    }
    let cols = ["chain", "result_id", "region", "day", "value_set", "count", "suppressed", "sites"]
    let tCopy = try seconds { try pg.copy(into: "bench_a", columns: cols, rows: rows) }
    let tsv = server.dataDir + "/../bench.tsv"
    try rows.map { $0.map { $0 ?? "\\N" }.joined(separator: "\t") }.joined(separator: "\n").appending("\n").write(toFile: tsv, atomically: true, encoding: .utf8)
    let psql = server.bin + "/psql"
    let tPsql = try seconds {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: psql)
        p.arguments = ["-q", "-h", "127.0.0.1", "-p", String(server.port), "-U", "tally", "-d", "postgres", "-c", "\\copy bench_b (\(cols.joined(separator: ", "))) FROM '\(tsv)'"]
        try p.run()
        p.waitUntilExit()
        precondition(p.terminationStatus == 0, "psql failed")
    }
    let a = try pg.execute("SELECT count(*) FROM bench_a")[0][0]!, b = try pg.execute("SELECT count(*) FROM bench_b")[0][0]!
    precondition(a == String(n) && b == String(n))
    print("Tally warehouse benchmark — release build, \(n) surveillance rows")
    print("figure                                              rows/s       baseline (same run)     ratio")
    print(String(format: "mirror COPY (libpq, from Swift)                  %10.0f   psql \\copy %10.0f   %5.2f×", Double(n) / tCopy, Double(n) / tPsql, (Double(n) / tCopy) / (Double(n) / tPsql)))
case "federation":
    try federationBenchmark(rounds: option("--rounds", 200), patients: option("--patients", 2000))
case "scan":
    try scanBenchmark(encounters: option("--encounters", 1_000_000), rounds: option("--rounds", 5))
case "cluster":
    try clusterBenchmark(duration: Double(option("--seconds", 10)), connections: option("--connections", 64))
case "commit-only":
    // Profiling aid: only the sequential execute+commit stage, signatures pre-checked.
    let c = try Consortium()
    let n = option("--transactions", 30_000)
    let admitted = Transaction.admit(registrations(c, count: n).map(\.bytes), maxBytes: 1 << 20)
    let ledger = try c.ledger("commit-only.sqlite")
    let (ts, cpu) = try cpuDuring([getpid()]) { try commitAdmitted(admitted, into: ledger, proposer: c.hospital, blockSize: option("--block", 2000)) }
    print(String(format: "execute+commit %.0f/s, CPU %.1f µs per transaction", Double(n) / ts, cpu / Double(n) * 1e6))
    try? FileManager.default.removeItem(at: c.dir)
default:
    print(usage)
    exit(2)
}
