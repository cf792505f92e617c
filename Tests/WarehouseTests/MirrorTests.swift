import Federation
import Foundation
import Ledger
import Testing
import Warehouse

/// A ledger with policies, votes and query audit events, and a surveillance result store.
final class MirrorFixture {
    let dir: URL
    let keys: [String: OrganisationKeys]
    let ledger: Ledger
    let results: SurveillanceResults
    var now: Int64 = 1_790_000_000_000
    var signers: [String: TransactionSigner] = [:]

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tally-mirror-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var k: [String: OrganisationKeys] = [:]
        var members: [Member] = []
        for (id, kind) in [("general-hospital", MemberKind.hospital), ("city-medical", .hospital), ("state-health", .publicHealth)] {
            k[id] = OrganisationKeys(org: id)
            members.append(Member(id: id, name: id, kind: kind, signingKey: k[id]!.signing.publicKey.base64, encryptionKey: k[id]!.agreement.publicKeyBase64))
        }
        keys = k
        ledger = try Ledger.create(path: dir.appendingPathComponent("ledger.sqlite").path, genesis: Genesis(chain: "mirror-test", time: now, members: members))
        results = try SurveillanceResults(path: dir.appendingPathComponent("results.sqlite").path)
        for (id, key) in k { signers[id] = TransactionSigner(chain: "mirror-test", identity: id, key: key.signing) }
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    func commit(_ txs: [Transaction]) throws -> [JSON] {
        now += 1000
        return try ledger.submit(txs, proposer: keys["general-hospital"]!, time: now).map { s in
            guard let r = s.receipt else { throw LedgerError.storage("\(s.error!)") }
            return r.result
        }
    }

    /// `policies` policies, each voted on by both hospitals, each queried `queries` times; plus results.
    func populate(policies: Int, queries: Int, results n: Int, resultOffset: Int = 0) throws {
        for i in 0..<policies {
            let id = "ili-\(ledger.height)-\(i)"
            let doc: JSON = ["id": .string(id), "purpose": "ILI surveillance", "legal_basis": "public-health-surveillance", "k": 11, "expires": .int(now + 10_000_000)]
            let r = try commit([signers["state-health"]!.sign("policy.propose", ["document": doc])])
            _ = try commit(["general-hospital", "city-medical"].map { signers[$0]!.sign("policy.vote", ["policy": .string(id), "hash": r[0]["hash"]!, "vote": "approve"]) })
            for q in 0..<queries {
                _ = try commit([signers["state-health"]!.sign("audit.query", ["query_hash": .string(String(repeating: "a", count: 63) + String(q % 10)), "policy": .string(id)])])
            }
        }
        var rows: [SurveillanceResults.Row] = []
        for i in 0..<n {
            rows.append(.init(queryID: "q\(i)", policyID: "ili", height: ledger.height, pinnedTime: now, region: ["north", "south"][i % 2],
                              day: SyntheticPopulation.day("2026-11-22", minus: (i + resultOffset) / 2), valueSet: "influenza-like-illness",
                              count: i % 7 == 0 ? nil : Int64(11 + i % 50), sitesAnswered: ["general-hospital", "city-medical"], sitesMissing: []))
        }
        try results.append(rows)
    }
}

@Suite(.serialized) struct WarehouseMirrorTests {
    func counts(_ pg: PostgresConnection) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for t in ["tally_blocks", "tally_policies", "tally_policy_votes", "tally_audit_events", "tally_surveillance"] {
            out[t] = Int(try pg.execute("SELECT count(*) FROM \(t)")[0][0]!)!
        }
        return out
    }

    @Test func mirroredRowsEqualTheLedgerAndResults() throws {
        let server = try ThrowawayPostgres()
        let f = try MirrorFixture()
        try f.populate(policies: 3, queries: 4, results: 40)
        let mirror = WarehouseMirror(ledger: f.ledger, results: f.results, conninfo: server.conninfo)
        mirror.blocksPerStep = 5
        _ = try mirror.run(sleep: { _ in })
        let pg = try PostgresConnection(server.conninfo)
        let c = try counts(pg)
        #expect(c["tally_blocks"] == Int(f.ledger.height) + 1)
        #expect(c["tally_policies"] == 3)
        #expect(c["tally_policy_votes"] == 6)
        #expect(c["tally_surveillance"] == 40)
        let ledgerAudit = try f.ledger.entries(prefix: "audit/query/").count + f.ledger.entries(prefix: "audit/policy/").count
        #expect(c["tally_audit_events"] == ledgerAudit)
        // Row contents, checked with SQL against the ledger.
        let head = try pg.execute("SELECT hash FROM tally_blocks WHERE height = $1", [String(f.ledger.height)])
        #expect(head.first?.first == f.ledger.head.hash.hex)
        #expect(try pg.execute("SELECT status FROM tally_policies WHERE policy_id = 'ili-0-0'").first?.first == "active")
        #expect(try pg.execute("SELECT count(*) FROM tally_surveillance WHERE suppressed AND count IS NULL")[0][0] == "6")
        #expect(try pg.execute("SELECT sum(count) FROM tally_surveillance")[0][0]
                == String(try f.results.rows(after: 0).compactMap { $0.row.count }.reduce(0, +)))
        // No pseudonym or patient-level value anywhere in the warehouse.
        let dump = try pg.execute("SELECT detail::text FROM tally_audit_events").compactMap { $0[0] }.joined()
        #expect(!dump.contains("PAT-"))
        // Incremental: new ledger activity and results are picked up, nothing doubled.
        try f.populate(policies: 1, queries: 2, results: 10, resultOffset: 40)
        _ = try mirror.run(sleep: { _ in })
        let c2 = try counts(pg)
        #expect(c2["tally_blocks"] == Int(f.ledger.height) + 1)
        #expect(c2["tally_surveillance"] == 50)
        #expect(try mirror.status() == .init(ledgerHeight: f.ledger.height, lastResult: 50))
    }

    @Test func aPostgresRestartMidRunLosesAndDoublesNothing() throws {
        let server = try ThrowawayPostgres()
        let f = try MirrorFixture()
        try f.populate(policies: 6, queries: 5, results: 300)
        let mirror = WarehouseMirror(ledger: f.ledger, results: f.results, conninfo: server.conninfo)
        mirror.blocksPerStep = 4
        // A few steps, then PostgreSQL goes away in the middle of the run.
        for _ in 0..<3 { try mirror.step() }
        try server.stop(immediate: true)
        #expect(throws: PostgresError.self) { try mirror.step() }
        // The run retries with backoff; PostgreSQL comes back on the second retry.
        var attempts = 0
        _ = try mirror.run(maxAttempts: 10, sleep: { _ in
            attempts += 1
            if attempts == 2 { try? server.start() }
        })
        #expect(attempts >= 2)
        let pg = try PostgresConnection(server.conninfo)
        let c = try counts(pg)
        #expect(c["tally_blocks"] == Int(f.ledger.height) + 1)
        #expect(c["tally_surveillance"] == 300)
        #expect(c["tally_policy_votes"] == 12)
        let distinctHeights = Int(try pg.execute("SELECT count(DISTINCT height) FROM tally_blocks")[0][0]!)!
        #expect(distinctHeights == c["tally_blocks"])
    }

    @Test func wrongCredentialsAndAnUnreachableServerGiveClearErrors() throws {
        let server = try ThrowawayPostgres()
        do {
            _ = try PostgresConnection("host=127.0.0.1 port=\(server.port) user=nobody dbname=postgres connect_timeout=5")
            Issue.record("connected as an unknown role")
        } catch let e as PostgresError {
            #expect(e.description.contains("nobody"))
        }
        let closed = ThrowawayPostgres.freePort()
        do {
            _ = try PostgresConnection("host=127.0.0.1 port=\(closed) user=tally dbname=postgres connect_timeout=2")
            Issue.record("connected to a closed port")
        } catch let e as PostgresError {
            #expect(e.description.contains("cannot connect"))
        }
    }
}
