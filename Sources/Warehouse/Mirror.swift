import Federation
import Foundation
import Ledger

/// Mirrors a node's non-PHI ledger facts (blocks, policies and votes, query and policy audit events)
/// and its surveillance results into PostgreSQL, incrementally and exactly once: the checkpoint
/// (ledger height, last result id) is written in the same PostgreSQL transaction as the rows, so a
/// crash or a PostgreSQL restart never loses or doubles a row. Never a patient-level row or a pseudonym.
public final class WarehouseMirror {
    public static let schemaVersion = 1
    static let migrations: [Int: String] = [
        1: """
        CREATE TABLE tally_checkpoint (mirror text PRIMARY KEY, chain text NOT NULL, ledger_height bigint NOT NULL,
            last_result bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE tally_blocks (chain text NOT NULL, height bigint NOT NULL, hash text NOT NULL, block_time timestamptz NOT NULL,
            proposer text NOT NULL, tx_count integer NOT NULL, PRIMARY KEY (chain, height));
        CREATE TABLE tally_policies (chain text NOT NULL, policy_id text NOT NULL, hash text NOT NULL, purpose text, legal_basis text,
            proposer text NOT NULL, k integer NOT NULL, expires timestamptz NOT NULL, status text NOT NULL, custodians text[] NOT NULL,
            updated_height bigint NOT NULL, PRIMARY KEY (chain, policy_id));
        CREATE TABLE tally_policy_votes (chain text NOT NULL, policy_id text NOT NULL, org text NOT NULL, vote text NOT NULL,
            voted_by text NOT NULL, voted_at timestamptz NOT NULL, height bigint NOT NULL, PRIMARY KEY (chain, policy_id, org, height));
        CREATE TABLE tally_audit_events (chain text NOT NULL, audit_key text NOT NULL, height bigint NOT NULL, event text NOT NULL,
            actor text NOT NULL, org text NOT NULL, event_time timestamptz NOT NULL, query_id text, query_hash text, policy_id text,
            detail jsonb NOT NULL, PRIMARY KEY (chain, audit_key));
        CREATE TABLE tally_surveillance (chain text NOT NULL, result_id bigint NOT NULL, query_id text NOT NULL, policy_id text NOT NULL,
            ledger_height bigint NOT NULL, pinned_time timestamptz NOT NULL, region text NOT NULL, day date NOT NULL, value_set text NOT NULL,
            count bigint, suppressed boolean NOT NULL, sites_answered text[] NOT NULL, sites_missing text[] NOT NULL,
            PRIMARY KEY (chain, result_id));
        CREATE INDEX tally_surveillance_day ON tally_surveillance (day, region);
        """,
    ]

    public struct Status: Sendable, Equatable {
        public var ledgerHeight: Int64
        public var lastResult: Int64
        public init(ledgerHeight: Int64, lastResult: Int64) {
            self.ledgerHeight = ledgerHeight
            self.lastResult = lastResult
        }
    }

    public struct StepReport: Sendable {
        public var blocks = 0
        public var policies = 0
        public var votes = 0
        public var auditEvents = 0
        public var results = 0
        public var rows: Int { blocks + policies + votes + auditEvents + results }
    }

    let ledger: Ledger
    let results: SurveillanceResults?
    let name: String
    let conninfo: String
    var connection: PostgresConnection?
    public var blocksPerStep = 500

    public init(ledger: Ledger, results: SurveillanceResults?, conninfo: String, name: String = "default") {
        self.ledger = ledger
        self.results = results
        self.conninfo = conninfo
        self.name = name
    }

    func connect() throws -> PostgresConnection {
        if let c = connection, c.isAlive { return c }
        connection = nil
        let c = try PostgresConnection(conninfo)
        try migrate(c)
        connection = c
        return c
    }

    /// Creates or upgrades the schema, one versioned migration at a time.
    func migrate(_ c: PostgresConnection) throws {
        try c.execute("CREATE TABLE IF NOT EXISTS tally_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        let current = Int((try c.execute("SELECT coalesce(max(version), 0) FROM tally_schema").first?.first ?? nil) ?? "0") ?? 0
        guard current <= Self.schemaVersion else { throw PostgresError(message: "warehouse schema version \(current) is newer than this Tally (\(Self.schemaVersion))", sqlState: nil) }
        for v in (current + 1)..<(Self.schemaVersion + 1) {
            try c.execute("BEGIN")
            do {
                try c.execute("LOCK TABLE tally_schema IN EXCLUSIVE MODE")
                if try c.execute("SELECT 1 FROM tally_schema WHERE version = $1", [String(v)]).isEmpty {
                    try c.execute(Self.migrations[v]!)
                    try c.execute("INSERT INTO tally_schema(version) VALUES ($1)", [String(v)])
                }
                try c.execute("COMMIT")
            } catch {
                _ = try? c.execute("ROLLBACK")
                throw error
            }
        }
    }

    public func status() throws -> Status {
        let c = try connect()
        let row = try c.execute("SELECT ledger_height, last_result FROM tally_checkpoint WHERE mirror = $1", [name]).first
        return Status(ledgerHeight: Int64(row?[0] ?? "-1") ?? -1, lastResult: Int64(row?[1] ?? "0") ?? 0)
    }

    /// UTC timestamp text PostgreSQL reads; written for every mirrored row, so no formatter objects.
    static func ts(_ ms: Int64) -> String {
        var t = time_t(ms / 1000)
        var p = tm()
        gmtime_r(&t, &p)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", p.tm_year + 1900, p.tm_mon + 1, p.tm_mday, p.tm_hour, p.tm_min, p.tm_sec, Int32(ms % 1000))
    }

    static func pgArray(_ a: [String]) -> String {
        "{" + a.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
    }

    /// Mirrors the next slice (up to `blocksPerStep` blocks and 10,000 results) in one PostgreSQL
    /// transaction with the checkpoint. Returns what it wrote (empty when caught up).
    @discardableResult
    public func step() throws -> StepReport {
        let c = try connect()
        var report = StepReport()
        try c.execute("BEGIN")
        do {
            try c.execute("INSERT INTO tally_checkpoint(mirror, chain, ledger_height, last_result) VALUES ($1, $2, -1, 0) ON CONFLICT (mirror) DO NOTHING", [name, ledger.chain])
            let cp = try c.execute("SELECT ledger_height, last_result, chain FROM tally_checkpoint WHERE mirror = $1 FOR UPDATE", [name]).first!
            guard cp[2] == ledger.chain else { throw PostgresError(message: "mirror \(name) holds chain \(cp[2] ?? "?"), not \(ledger.chain)", sqlState: nil) }
            let from = (Int64(cp[0] ?? "-1") ?? -1) + 1
            let lastResult = Int64(cp[1] ?? "0") ?? 0
            let to = min(ledger.height, from + Int64(blocksPerStep) - 1)
            var blocks: [[String?]] = []
            var votes: [[String?]] = []
            var audit: [[String?]] = []
            var touchedPolicies = Set<String>()
            if from <= to {
                for h in from...to {
                    let b = try ledger.block(at: h)
                    blocks.append([ledger.chain, String(h), b.header.hash.hex, Self.ts(b.header.time), b.header.proposer, String(b.header.txCount)])
                    for tx in b.transactions where tx.body.op.hasPrefix("policy.") {
                        guard let pid = tx.body.args["policy"]?.stringValue ?? tx.body.args["document"]?["id"]?.stringValue else { continue }
                        touchedPolicies.insert(pid)
                        if tx.body.op == "policy.vote" || tx.body.op == "policy.withdraw" {
                            let vote = tx.body.op == "policy.withdraw" ? "withdrawn" : (tx.body.args["vote"]?.stringValue ?? "")
                            let org = String(tx.body.sender.split(separator: "/").first ?? "")
                            votes.append([ledger.chain, pid, org, vote, tx.body.sender, Self.ts(b.header.time), String(h)])
                        }
                    }
                    for subject in ["query", "policy"] {
                        for (key, e) in try ledger.entries(prefix: "audit/\(subject)/\(AuditKey.pad(h, 12))/") {
                            audit.append([ledger.chain, key, String(h), e["event"]?.stringValue ?? "", e["actor"]?.stringValue ?? "", e["org"]?.stringValue ?? "",
                                          Self.ts(e["time"]?.intValue ?? 0), e["query"]?.stringValue, e["query_hash"]?.stringValue, e["policy"]?.stringValue,
                                          e.canonicalString])
                        }
                    }
                }
                try c.copy(into: "tally_blocks", columns: ["chain", "height", "hash", "block_time", "proposer", "tx_count"], rows: blocks)
                if !votes.isEmpty {
                    try c.copy(into: "tally_policy_votes", columns: ["chain", "policy_id", "org", "vote", "voted_by", "voted_at", "height"], rows: votes)
                }
                if !audit.isEmpty {
                    try c.copy(into: "tally_audit_events", columns: ["chain", "audit_key", "height", "event", "actor", "org", "event_time", "query_id", "query_hash", "policy_id", "detail"], rows: audit)
                }
                let time = try ledger.block(at: to).header.time
                for pid in touchedPolicies.sorted() {
                    guard let p = try ledger.value(StateKey.policy(pid), asOf: to) else { continue }
                    let doc = p["document"] ?? [:]
                    try c.execute("""
                        INSERT INTO tally_policies(chain, policy_id, hash, purpose, legal_basis, proposer, k, expires, status, custodians, updated_height)
                        VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
                        ON CONFLICT (chain, policy_id) DO UPDATE SET hash = EXCLUDED.hash, purpose = EXCLUDED.purpose, legal_basis = EXCLUDED.legal_basis,
                            k = EXCLUDED.k, expires = EXCLUDED.expires, status = EXCLUDED.status, custodians = EXCLUDED.custodians, updated_height = EXCLUDED.updated_height
                        """, [ledger.chain, pid, p["hash"]?.stringValue ?? "", doc["purpose"]?.stringValue, doc["legal_basis"]?.stringValue,
                              p["proposer"]?.stringValue ?? "", String(p["k"]?.intValue ?? 0), Self.ts(p["expires"]?.intValue ?? 0),
                              PolicyStatus.derive(p, at: time).rawValue, Self.pgArray((p["custodians"]?.arrayValue ?? []).compactMap(\.stringValue)), String(to)])
                }
            }
            var newLast = lastResult
            if let results {
                let rows = try results.rows(after: lastResult)
                if !rows.isEmpty {
                    try c.copy(into: "tally_surveillance", columns: ["chain", "result_id", "query_id", "policy_id", "ledger_height", "pinned_time", "region", "day",
                                                                     "value_set", "count", "suppressed", "sites_answered", "sites_missing"],
                               rows: rows.map { id, r in
                                   [ledger.chain, String(id), r.queryID, r.policyID, String(r.height), Self.ts(r.pinnedTime), r.region, r.day, r.valueSet,
                                    r.count.map(String.init), r.count == nil ? "t" : "f", Self.pgArray(r.sitesAnswered), Self.pgArray(r.sitesMissing)]
                               })
                    newLast = rows.last!.id
                    report.results = rows.count
                }
            }
            try c.execute("UPDATE tally_checkpoint SET ledger_height = $2, last_result = $3, updated_at = now() WHERE mirror = $1",
                          [name, String(max(to, from - 1)), String(newLast)])
            try c.execute("COMMIT")
            report.blocks = blocks.count
            report.votes = votes.count
            report.auditEvents = audit.count
            report.policies = touchedPolicies.count
            return report
        } catch {
            _ = try? c.execute("ROLLBACK")
            connection = nil // reconnect next time; the checkpoint did not move
            throw error
        }
    }

    /// Mirrors until caught up, retrying failures with exponential backoff (bounded), so a PostgreSQL
    /// restart delays the mirror but never stops the node. `sleep` is injectable for tests.
    public func run(maxAttempts: Int = 8, baseDelay: Double = 0.5, maxDelay: Double = 30,
                    sleep: (Double) -> Void = { Thread.sleep(forTimeInterval: $0) },
                    log: (String) -> Void = { _ in }) throws -> StepReport {
        var total = StepReport()
        var failures = 0
        while true {
            do {
                let r = try step()
                failures = 0
                total.blocks += r.blocks
                total.policies += r.policies
                total.votes += r.votes
                total.auditEvents += r.auditEvents
                total.results += r.results
                if r.rows == 0 { return total }
            } catch {
                failures += 1
                if failures >= maxAttempts { throw error }
                let delay = min(maxDelay, baseDelay * pow(2, Double(failures - 1)))
                log("mirror step failed (attempt \(failures) of \(maxAttempts)): \(error); retrying in \(delay) s")
                sleep(delay)
            }
        }
    }
}
