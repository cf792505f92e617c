import DeidSQL
import Federation
import Foundation
import Ledger
import SQLiteStore
import Testing

/// Hostile SQL, sent straight to the sandbox (as if the validator had a hole) and through the member.
/// Every case must end within seconds with a clear error, and the node must keep answering.
@Suite struct HostileQueryTests {
    static let hostile: [(String, String)] = [
        ("recursive CTE runaway", "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r"),
        ("randomblob", "SELECT length(randomblob(2000000000))"),
        ("zeroblob", "SELECT length(zeroblob(2000000000))"),
        ("huge printf width", "SELECT length(printf('%.*c', 2000000000, 'x'))"),
        ("deep nesting", "SELECT " + String(repeating: "(", count: 400) + "1" + String(repeating: ")", count: 400)),
        ("giant IN list", "SELECT count(*) FROM v_patients WHERE zip3 IN (" + (0..<20000).map(String.init).joined(separator: ",") + ")"),
        ("LIKE pathology", "SELECT count(*) FROM v_patients WHERE region LIKE '" + String(repeating: "%a", count: 200) + "'"),
        ("cartesian join", "SELECT count(*) FROM v_encounters a, v_encounters b, v_encounters c, v_encounters d"),
        ("sqlite_master", "SELECT count(*) FROM sqlite_master"),
        ("sqlite_schema columns", "SELECT sql FROM sqlite_schema"),
        ("other schema", "SELECT count(*) FROM temp.sqlite_temp_master"),
        ("ATTACH", "ATTACH DATABASE '/tmp/x.sqlite' AS x"),
        ("PRAGMA", "PRAGMA table_info(v_patients)"),
        ("pragma function", "SELECT * FROM pragma_table_info('v_patients')"),
        ("load_extension", "SELECT load_extension('/tmp/evil.so')"),
        ("write attempt", "DELETE FROM v_patients"),
        ("create temp", "CREATE TEMP TABLE x(a)"),
        ("sqlite_version", "SELECT sqlite_version()"),
        ("fts/json table", "SELECT * FROM json_each('[1,2]')"),
    ]

    func limits() -> SandboxConnection.Limits {
        var l = SandboxConnection.Limits()
        l.deadline = .seconds(5)
        l.maxProgressCallbacks = 50_000 // 50 M VM steps: deterministic, well under the deadline here
        return l
    }

    @Test func theSandboxStopsEveryHostileQueryAndKeepsServing() throws {
        let p = try Population()
        try p.seed(200)
        let sandbox = try SandboxConnection(path: p.views.path, allowance: .init(tables: MemberService.sandboxTables, functions: MemberService.sandboxFunctions),
                                            limits: limits())
        for (name, sql) in Self.hostile {
            let t0 = ContinuousClock.now
            do {
                _ = try sandbox.query(sql)
                Issue.record("\(name): hostile query was not stopped")
            } catch {
                // A clear, classified reason: refused up front, or stopped while running.
                let reason = "\(error)"
                #expect(["refused by the sandbox", "query stopped", "query failed"].contains { reason.hasPrefix($0) }, "\(name): \(reason)")
            }
            #expect(ContinuousClock.now - t0 < .seconds(8), "\(name) took too long")
            // The same connection still answers an ordinary query.
            let ok = try sandbox.query("SELECT count(*) FROM v_patients")
            #expect(ok.rows == [[.integer(200)]], "\(name) left the sandbox unusable")
        }
    }

    @Test func injectedParameterValuesAreData() throws {
        let p = try Population()
        try p.seed(20)
        let sandbox = try SandboxConnection(path: p.views.path, allowance: .init(tables: MemberService.sandboxTables, functions: MemberService.sandboxFunctions))
        let r = try sandbox.query("SELECT count(*) FROM v_patients WHERE region = :r", bindings: [":r": .text("x' OR '1'='1")])
        #expect(r.rows == [[.integer(0)]])
        let r2 = try sandbox.query("SELECT count(*) FROM v_patients WHERE region = :r", bindings: [":r": .text("north'); DROP TABLE v_patients; --")])
        #expect(r2.rows == [[.integer(0)]])
        #expect(try sandbox.query("SELECT count(*) FROM v_patients").rows == [[.integer(20)]])
    }

    @Test func throughTheMemberEveryHostileQueryIsRefusedWithAReason() throws {
        let p = try Population()
        try p.seed(50)
        try p.policy("adhoc")
        let m = try p.member()
        m.sandboxLimits = limits()
        let viaViews: [String] = [
            "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r",
            "SELECT COUNT(*) FROM patients WHERE length(randomblob(2000000000)) > 0",
            "SELECT COUNT(*) FROM patients a, encounters b, encounters c, encounters d, encounters e WHERE a.sex <> b.site",
            "SELECT COUNT(*) FROM sqlite_master",
            "SELECT COUNT(*) FROM patients; DROP TABLE v_patients",
            "SELECT COUNT(*) FROM patients WHERE region LIKE '" + String(repeating: "%a", count: 200) + "'",
        ]
        for sql in viaViews {
            let t0 = ContinuousClock.now
            #expect(throws: Refusal.self, "\(sql.prefix(60))") { try m.evaluate(try p.request(sql, policy: "adhoc")) }
            #expect(ContinuousClock.now - t0 < .seconds(8))
        }
        let (r, _) = try m.evaluate(try p.request("SELECT COUNT(*) AS n FROM patients", policy: "adhoc"))
        #expect(r.rows == [[.value(.integer(50)), .value(.integer(50))]])
    }
}
