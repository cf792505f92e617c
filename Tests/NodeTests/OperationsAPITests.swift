import Federation
import Foundation
import Ledger
import Node
import NodeAPI
import Testing

/// The node's operational endpoints and its error contract, against live node processes: health,
/// readiness, Prometheus metrics, the OpenAPI document, and JSON errors with stable codes for bad
/// input (unknown path, oversized body, malformed JSON, unknown policy).
@Suite(.serialized) struct OperationsAPITests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func healthReadinessMetricsOpenAPIAndErrorBodies() throws {
        let root = try temporaryDirectory("ops")
        defer { try? FileManager.default.removeItem(at: root) }
        let c = LocalConsortium(root: root, specs: [
            .init(org: "general-hospital", kind: .hospital, patients: 30),
            .init(org: "city-medical", kind: .hospital, patients: 20),
            .init(org: "state-health", kind: .publicHealth, voting: false),
        ], executable: tallyExecutable().path, workingDirectory: Self.repo.path)
        try c.create()
        defer { c.stopAll() }
        try c.startAll()
        _ = try c.loadPopulations(today: String(MemberService.sqlTime(Clock.wallMillis()).prefix(10)), seed: 3,
                                  trialGrantee: "state-health", trialScope: "research", consentShare: 0)
        let api = c.apis["general-hospital"]!
        func get(_ path: String) throws -> (Int, JSON?, String) {
            let (code, text) = try HTTP.request("GET", api, path)
            return (code, try? JSON.parse(Array(text.utf8)), text)
        }

        var (code, j, text) = try get("/health")
        #expect(code == 200 && j?["status"] == "ok")
        #expect(poll(seconds: 30) { (try? get("/ready"))?.0 == 200 }, "a node with a leader and caught-up views is ready")
        (code, j, _) = try get("/ready")
        #expect(j?["ready"] == true && j?["reasons"] == [])

        // A query so the member and coordinator series have something to count.
        let sql = "SELECT COUNT(DISTINCT patient_id) AS n FROM patients"
        let doc: JSON = ["id": "census", "purpose": "count", "requesters": ["state-health"], "ad_hoc": true, "k": 11, "expires": .int(Clock.wallMillis() + 86_400_000),
                         "approval": ["rule": "quorum", "quorum": 1]]
        let hash = try #require(try c.commit([try c.signer("state-health").sign("policy.propose", ["document": doc])])[0]["result"]?["hash"])
        try c.commit([try c.signer("general-hospital").sign("policy.vote", ["policy": "census", "hash": hash, "vote": "approve"])])
        #expect(c.waitForHeight(try c.directories["general-hospital"]!.openLedger().height))
        let r = try c.query(as: "state-health", policy: "census", sql: sql)
        #expect(r.sitesAnswered == ["general-hospital"] && r.sitesRefused.map(\.site) == ["city-medical"])

        // Where a mirror stands, as `tally mirror run` records it beside the node.
        try Data(#"{"at":0,"ledger_height":1,"mirror":"warehouse"}"#.utf8).write(to: c.directories["general-hospital"]!.url.appendingPathComponent("mirror-warehouse.json"))
        (code, _, text) = try get("/metrics")
        #expect(code == 200)
        #expect(text.contains("tally_mirror_height{mirror=\"warehouse\"} 1"))
        #expect(text.contains("tally_mirror_lag_blocks{mirror=\"warehouse\"}"))
        for series in ["tally_raft_term", "tally_raft_commit_index", "tally_raft_apply_lag_entries", "tally_ledger_height", "tally_views_lag_blocks",
                       "tally_member_queries_total{outcome=\"answered\"} 1", "tally_member_suppressed_rows_total", "tally_member_evaluation_seconds_bucket",
                       "tally_coordinated_queries_total{outcome=\"complete\"}", "tally_coordinated_query_seconds_bucket"] {
            #expect(text.contains(series), "metrics lack \(series)")
        }
        let coordinator = try HTTP.request("GET", c.apis["state-health"]!, "/metrics").1
        #expect(coordinator.contains("tally_coordinated_queries_total{outcome=\"complete\"} 1"))
        let refusing = try HTTP.request("GET", c.apis["city-medical"]!, "/metrics").1
        #expect(refusing.contains("tally_member_queries_total{outcome=\"policy_not_approved\"} 1"))
        // No metric names a patient.
        #expect(!text.contains("PAT-"))

        // The OpenAPI document is served and names every route this node answers.
        (code, j, _) = try get("/openapi.json")
        #expect(code == 200 && j?["openapi"] == "3.0.3")
        let paths = Set(j?["paths"]?.objectValue?.keys.map { $0 } ?? [])
        for p in ["/health", "/ready", "/metrics", "/v1/status", "/v1/transactions", "/v1/queries", "/v1/patients/{pid}/access-report", "/v1/anchors/{sha256}"] {
            #expect(paths.contains(p), "OpenAPI lacks \(p)")
        }

        // Errors: JSON with a stable code and a message, never an HTML page or a 5xx.
        (code, j, _) = try get("/v1/nowhere")
        #expect(code == 404 && j?["code"] == "not_found" && j?["error"]?.stringValue?.contains("/openapi.json") == true)
        (code, j, _) = try get("/v1/status")
        #expect(code == 200 && j?["org"] == "general-hospital" && j?["leader"] != nil && (j?["height"]?.intValue ?? 0) > 0)
        (code, j, _) = try get("/v1/blocks/1")
        #expect(code == 200 && j?["header"]?["height"]?.intValue == 1 && j?["checkpoint"] != nil)
        (code, j, _) = try get("/v1/blocks/999999")
        #expect(code == 404 && j?["code"] == "not_found")
        (code, j, _) = try get("/v1/blocks/minus-one")
        #expect(code == 400 && j?["code"] == "bad_request")
        // A body past the transaction size limit is refused as oversized; past the body bound, unread.
        var (pc, pt) = try HTTP.request("POST", api, "/v1/transactions", body: Array(repeating: 0x41, count: (1 << 20) + 1))
        #expect(pc == 422 && (try? JSON.parse(Array(pt.utf8)))?["error"]?.stringValue?.hasPrefix("oversized") == true, "\(pc) \(pt)")
        (pc, pt) = try HTTP.request("POST", api, "/v1/transactions", body: Array(repeating: 0x41, count: (1 << 20) + 4096))
        #expect(pc == 413 && (try? JSON.parse(Array(pt.utf8)))?["code"] == "too_large", "\(pc) \(pt)")
        // Authentication: unsigned, a wrong key, another organisation, a stale timestamp, a replay.
        let ghKey = try c.directories["general-hospital"]!.keys().signing
        let census = Array(#"{"policy": "census", "sql": "SELECT COUNT(DISTINCT patient_id) AS n FROM patients"}"#.utf8)
        (pc, pt) = try HTTP.request("POST", api, "/v1/queries", body: census)
        #expect(pc == 401 && (try? JSON.parse(Array(pt.utf8)))?["code"] == "unauthenticated", "\(pt)")
        (pc, pt) = try HTTP.signed("POST", api, "/v1/queries", body: census, identity: "general-hospital", key: SigningKey())
        #expect(pc == 401 && pt.contains("does not verify"), "\(pt)")
        (pc, pt) = try HTTP.signed("POST", api, "/v1/queries", body: census, identity: "city-medical", key: try c.directories["city-medical"]!.keys().signing)
        #expect(pc == 403 && (try? JSON.parse(Array(pt.utf8)))?["code"] == "forbidden", "\(pt)")
        let stale = RequestSignature.headers(identity: "general-hospital", key: ghKey, method: "POST", target: "/v1/queries", body: census,
                                             now: Clock.wallMillis() - 3_600_000)
        (pc, pt) = try HTTP.request("POST", api, "/v1/queries", body: census, headers: stale)
        #expect(pc == 401 && pt.contains("clock"), "\(pt)")
        // Hostile timestamps are refused, not trapped on: the node keeps answering.
        for hostile in ["-9223372036854775808", "9223372036854775807", "nan", ""] {
            var h = RequestSignature.headers(identity: "general-hospital", key: ghKey, method: "POST", target: "/v1/queries", body: census)
            h[1] = (RequestSignature.timestampHeader, hostile)
            (pc, pt) = try HTTP.request("POST", api, "/v1/queries", body: census, headers: h)
            #expect(pc == 401, "\(pt)")
        }
        #expect(try HTTP.request("GET", api, "/health").0 == 200)
        let once = RequestSignature.headers(identity: "general-hospital", key: ghKey, method: "GET", target: "/v1/policies", body: [])
        (pc, pt) = try HTTP.request("GET", api, "/v1/policies", headers: once)
        #expect(pc == 200 && pt.contains("census"), "\(pt)")
        (pc, pt) = try HTTP.request("GET", api, "/v1/policies", headers: once)
        #expect(pc == 401 && pt.contains("replay"), "\(pt)")
        // The body is covered by the signature: a different body under the same headers is refused.
        let tampered = RequestSignature.headers(identity: "general-hospital", key: ghKey, method: "POST", target: "/v1/queries/preview", body: census)
        (pc, pt) = try HTTP.request("POST", api, "/v1/queries/preview", body: Array(#"{"policy": "census", "sql": "SELECT 1"}"#.utf8), headers: tampered)
        #expect(pc == 401, "\(pt)")
        // Signed: the steward's preview of what this site would release, unsigned and never sent.
        (pc, pt) = try HTTP.signed("POST", api, "/v1/queries/preview", body: census, identity: "general-hospital", key: ghKey)
        #expect(pc == 200 && (try? JSON.parse(Array(pt.utf8)))?["preview"] == true, "\(pt)")
        // The requester's node keeps the merged result; any member can see the query's record.
        let shKey = try c.directories["state-health"]!.keys().signing
        (pc, pt) = try HTTP.signed("GET", c.apis["state-health"]!, "/v1/queries/\(r.queryID)", identity: "state-health", key: shKey)
        #expect(pc == 200 && (try? JSON.parse(Array(pt.utf8)))?["result"] != nil, "\(pt)")
        (pc, pt) = try HTTP.signed("GET", api, "/v1/queries/\(r.queryID)", identity: "general-hospital", key: ghKey)
        #expect(pc == 200 && (try? JSON.parse(Array(pt.utf8)))?["result"] == nil && pt.contains(r.queryID), "\(pt)")

        // Receipts and stored surveillance rows.
        let lastTx = try c.directories["general-hospital"]!.openLedger().block(at: r.height).transactions[0].hash.hex
        (pc, pt) = try HTTP.request("GET", api, "/v1/transactions/\(lastTx)")
        #expect(pc == 200 && (try? JSON.parse(Array(pt.utf8)))?["height"]?.intValue == r.height, "\(pt)")
        (pc, pt) = try HTTP.request("GET", api, "/v1/transactions/\(String(repeating: "0", count: 64))")
        #expect(pc == 404 && (try? JSON.parse(Array(pt.utf8)))?["code"] == "not_found")
        (pc, pt) = try HTTP.signed("GET", c.apis["state-health"]!, "/v1/surveillance", identity: "state-health", key: shKey)
        #expect(pc == 200 && (try? JSON.parse(Array(pt.utf8)))?["rows"] == [], "\(pt)")
        (pc, _) = try HTTP.signed("GET", c.apis["state-health"]!, "/v1/surveillance", identity: "general-hospital", key: ghKey)
        #expect(pc == 403)

        (pc, pt) = try HTTP.signed("POST", api, "/v1/queries", body: Array("{not json".utf8), identity: "general-hospital", key: ghKey)
        #expect(pc == 400 && (try? JSON.parse(Array(pt.utf8)))?["code"] == "bad_request")
        (pc, pt) = try HTTP.signed("POST", api, "/v1/queries", body: Array(#"{"policy": "no-such-policy", "sql": "SELECT COUNT(*) AS n FROM patients"}"#.utf8), identity: "general-hospital", key: ghKey, timeout: 30)
        #expect(pc == 404 && (try? JSON.parse(Array(pt.utf8)))?["code"] == "not_found")
        (pc, pt) = try HTTP.signed("POST", api, "/v1/queries", body: Array(#"{"policy": "census", "sql": "SELECT patient_id FROM patients"}"#.utf8), identity: "general-hospital", key: ghKey)
        #expect(pc == 400 && (try? JSON.parse(Array(pt.utf8)))?["error"]?.stringValue?.contains("R2") == true)
        (pc, pt) = try HTTP.request("POST", api, "/v1/evaluate", body: Array("{}".utf8))
        #expect(pc == 400 && (try? JSON.parse(Array(pt.utf8)))?["code"] == "bad_request")
    }
}
