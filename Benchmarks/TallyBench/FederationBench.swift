import Federation
import Foundation
import Ledger
import Node
import SQLiteStore

// `TallyBench federation`: the fixed cost of a federated query — ledger submission, concurrent fan-out
// to three custodian processes, their signature checks and evaluation, verification and merge — on a
// trivial query, against the same trivial query run directly on one site's views in the same run; and
// the ILI query end to end. Release build; node processes on loopback.
/// The release `tally` binary beside this benchmark and the repository root (the working directory);
/// exits with a hint when either is missing.
func nodeBinaryAndRepository() -> (exe: String, repo: String) {
    let exe = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tally").path
    guard FileManager.default.isExecutableFile(atPath: exe) else {
        print("build the node binary first: swift build -c release --product tally")
        exit(2)
    }
    let repo = FileManager.default.currentDirectoryPath
    guard FileManager.default.fileExists(atPath: repo + "/Queries/valuesets") else { print("run from the repository root"); exit(2) }
    return (exe, repo)
}

func federationBenchmark(rounds: Int, patients: Int) throws {
    let (exe, repo) = nodeBinaryAndRepository()
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("tally-fed-bench-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    let c = LocalConsortium(root: root, specs: [
        .init(org: "general-hospital", kind: .hospital, patients: patients), .init(org: "city-medical", kind: .hospital, patients: patients / 2),
        .init(org: "valley-clinic", kind: .clinic, patients: patients / 4), .init(org: "state-health", kind: .publicHealth, voting: false),
    ], executable: exe, workingDirectory: repo)
    try c.create()
    defer { c.stopAll() }
    try c.startAll()
    let today = String(MemberService.sqlTime(Clock.wallMillis()).prefix(10))
    let tLoad = try seconds { _ = try c.loadPopulations(today: today, seed: 7, trialGrantee: "state-health", trialScope: "none", consentShare: 0) }
    let trivial = "SELECT p.sex, COUNT(*) AS n FROM patients p GROUP BY p.sex"
    let ili = try String(contentsOfFile: repo + "/Queries/ili_surveillance.sql", encoding: .utf8)
    let doc: JSON = ["id": "bench", "purpose": "benchmark", "legal_basis": "public-health-surveillance", "requesters": ["state-health"],
                     "templates": [["sha256": .string(Hash32.sha256(Array(trivial.utf8)).hex)], ["sha256": .string(Hash32.sha256(Array(ili.utf8)).hex)]],
                     "ad_hoc": false, "k": 11, "allow_min_max": false, "expires": .int(Clock.wallMillis() + 86_400_000), "approval": ["rule": "all"]]
    let p = try c.commit([try c.signer("state-health").sign("policy.propose", ["document": doc])])[0]
    for org in ["general-hospital", "city-medical", "valley-clinic"] {
        try c.commit([try c.signer(org).sign("policy.vote", ["policy": "bench", "hash": p["result"]?["hash"] ?? "", "vote": "approve"])])
    }
    _ = try c.query(as: "state-health", policy: "bench", sql: trivial) // warm up
    var fed: [Double] = []
    var parts: [String: [Double]] = [:]
    for _ in 0..<rounds {
        var r: FederatedResult?
        let t = try seconds { r = try c.query(as: "state-health", policy: "bench", sql: trivial) }
        fed.append(t)
        for (k, v) in r?.timings ?? [:] { parts[k, default: []].append(v / 1000) }
    }
    // Baseline: the same trivial query over one site's views, directly in SQLite (no ledger, no network).
    let gh = c.directories["general-hospital"]!
    let db = try Database(path: gh.viewsPath, flags: [.readOnly])
    var direct: [Double] = []
    for _ in 0..<rounds {
        direct.append(try seconds { _ = try db.rows("SELECT sex, COUNT(*) FROM v_patients GROUP BY sex") })
    }
    var iliTimes: [Double] = []
    for _ in 0..<max(5, rounds / 10) {
        iliTimes.append(try seconds { _ = try c.query(as: "state-health", policy: "bench", sql: ili) })
    }
    func pct(_ xs: [Double], _ p: Double) -> Double { let s = xs.sorted(); return s[min(s.count - 1, Int(Double(s.count) * p))] * 1000 }
    print("Tally federation benchmark — release build, 3 custodian processes + requester on loopback, \(patients + patients / 2 + patients / 4) patients (loaded in \(String(format: "%.1f", tLoad)) s)")
    print("figure                                          p50 ms    p99 ms    baseline (same run) p50 ms   ratio p50")
    print(String(format: "trivial query, federated end to end           %7.2f   %7.2f    one site's SQLite     %7.3f   %7.0f×", pct(fed, 0.5), pct(fed, 0.99), pct(direct, 0.5), pct(fed, 0.5) / pct(direct, 0.5)))
    let labels = ["submit": "ledger submission (replicated commit)", "submit_at_leader": "  at the leader (request → commit)",
                  "fanout": "fan-out, site answers, verification", "site_wait_views": "  slowest site: waiting for its views",
                  "site_evaluate": "  slowest site: checks, evaluation, signing", "merge": "merge and threshold"]
    for k in ["submit", "submit_at_leader", "fanout", "site_wait_views", "site_evaluate", "merge"] where parts[k] != nil {
        let label = labels[k]!
        print("  of which " + label.padding(toLength: 37, withPad: " ", startingAt: 0) + String(format: "%7.2f   %7.2f", pct(parts[k] ?? [0], 0.5), pct(parts[k] ?? [0], 0.99)))
    }
    print(String(format: "ILI query (7-day, by region/day), federated   %7.2f   %7.2f", pct(iliTimes, 0.5), pct(iliTimes, 0.99)))
    print("goal for the fixed cost: p50 ≤ 15 ms, p99 ≤ 50 ms (issue #9). \(rounds) trivial rounds, \(iliTimes.count) ILI rounds.")
}
