import Consensus
import Foundation
import Ledger
import Prometheus
import Raft

/// The node's Prometheus metrics (text exposition at `GET /metrics`). Gauges that mirror state (Raft
/// term and indexes, ledger and view heights, lags) are read at scrape time; counters and histograms
/// are updated where the work happens. No label ever carries a patient, a query text or a value: the
/// labels are outcome codes from a fixed set.
public final class NodeMetrics: @unchecked Sendable {
    public let registry = PrometheusCollectorRegistry()
    let term: Gauge
    let commitIndex: Gauge
    let appliedIndex: Gauge
    let applyLag: Gauge
    let ledgerHeight: Gauge
    let viewsHeight: Gauge
    let viewsLag: Gauge
    let isLeader: Gauge
    let suppressedRows: Counter
    let suppressedCells: Counter
    let evaluation: DurationHistogram
    let coordination: DurationHistogram
    static let buckets: [Duration] = [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                                      .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10)]

    public init() {
        term = registry.makeGauge(name: "tally_raft_term", help: "Current Raft term")
        commitIndex = registry.makeGauge(name: "tally_raft_commit_index", help: "Highest Raft log index known committed")
        appliedIndex = registry.makeGauge(name: "tally_raft_applied_index", help: "Highest Raft log index applied to the ledger")
        applyLag = registry.makeGauge(name: "tally_raft_apply_lag_entries", help: "Committed but not yet applied Raft entries")
        ledgerHeight = registry.makeGauge(name: "tally_ledger_height", help: "Height of this node's ledger")
        viewsHeight = registry.makeGauge(name: "tally_views_height", help: "Ledger height the decrypted views reflect")
        viewsLag = registry.makeGauge(name: "tally_views_lag_blocks", help: "Blocks the decrypted views are behind the ledger")
        isLeader = registry.makeGauge(name: "tally_raft_is_leader", help: "1 if this node leads the Raft cluster")
        suppressedRows = registry.makeCounter(name: "tally_member_suppressed_rows_total", help: "Result rows this member withheld (fewer than k patients)")
        suppressedCells = registry.makeCounter(name: "tally_member_suppressed_cells_total", help: "Count cells this member withheld")
        evaluation = registry.makeDurationHistogram(name: "tally_member_evaluation_seconds", buckets: NodeMetrics.buckets,
                                                    help: "Time a member takes to answer a federated request")
        coordination = registry.makeDurationHistogram(name: "tally_coordinated_query_seconds", buckets: NodeMetrics.buckets,
                                                      help: "Time from submission to merged result, as coordinator")
        // Every outcome series exists from the start, so dashboards see zeros, not gaps.
        for o in ["answered"] + MemberOutcome.refusalCodes { _ = answers(o) }
        for o in ["complete", "partial", "failed"] { _ = coordinated(o) }
    }

    /// Member answers by outcome: `answered` or the refusal code.
    func answers(_ outcome: String) -> Counter {
        let o = MemberOutcome.refusalCodes.contains(outcome) || outcome == "answered" ? outcome : "other"
        return registry.makeCounter(name: "tally_member_queries_total", labels: [("outcome", o)], help: "Federated requests this member received, by outcome")
    }

    /// Queries this node coordinated, by outcome (`complete`, `partial`, `failed`).
    func coordinated(_ outcome: String) -> Counter {
        registry.makeCounter(name: "tally_coordinated_queries_total", labels: [("outcome", outcome)], help: "Federated queries this node coordinated, by outcome")
    }

    /// Mirror positions from the status files `tally mirror run` leaves in the node directory.
    func observeMirrors(in directory: String?, ledger: Int64) {
        guard let directory, let files = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for f in files where f.hasPrefix("mirror-") && f.hasSuffix(".json") {
            guard let d = FileManager.default.contents(atPath: directory + "/" + f), let j = try? JSON.parse(Array(d)),
                  let name = j["mirror"]?.stringValue, Member.isValidID(name), let h = j["ledger_height"]?.intValue else { continue }
            registry.makeGauge(name: "tally_mirror_height", labels: [("mirror", name)], help: "Ledger height the PostgreSQL mirror has copied").set(Double(h))
            registry.makeGauge(name: "tally_mirror_lag_blocks", labels: [("mirror", name)], help: "Blocks the PostgreSQL mirror is behind this node's ledger")
                .set(Double(max(0, ledger - h)))
        }
    }

    func observe(_ s: RaftNode.Status, ledger: Int64, views: Int64?) {
        term.set(Double(s.term))
        commitIndex.set(Double(s.commit))
        appliedIndex.set(Double(s.applied))
        applyLag.set(Double(s.commit > s.applied ? s.commit - s.applied : 0))
        ledgerHeight.set(Double(ledger))
        isLeader.set(s.role == .leader ? 1.0 : 0.0)
        if let v = views {
            viewsHeight.set(Double(v))
            viewsLag.set(Double(max(0, ledger - v)))
        }
    }
}

enum MemberOutcome {
    /// The refusal codes a member answers with (`Refusal.code`, plus the federation layer's own).
    static let refusalCodes = ["unknown_policy", "policy_not_approved", "requester_not_allowed", "template_mismatch", "invalid_query",
                               "parameter", "sandbox", "not_caught_up", "unauthenticated", "error"]
}
