import DeidSQL
import Foundation
import SQLiteStore
import Testing

/// Golden cases: `Golden/NNN-name.sql` with a header stating the intended outcome
/// (`-- expect: ok` or `-- expect: RULE`, optional `-- allow: min-max`, `-- params: a:int,b:text`),
/// and `NNN-name.out` holding exactly what `tally sql check` prints. Set TALLY_UPDATE_GOLDEN=1 to
/// rewrite the .out files after an intended change, and review the diff.
enum Golden {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    static let valueSetDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Queries/valuesets").path

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".sql") }.sorted()
    }

    static func header(_ sql: String, _ key: String) -> String? {
        for line in sql.split(separator: "\n") where line.hasPrefix("-- \(key): ") {
            return String(line.dropFirst(key.count + 5))
        }
        return nil
    }

    static func checker(for sql: String) throws -> QueryChecker {
        var c = QueryChecker(valueSets: try QueryChecker.loadValueSets(directory: valueSetDir))
        c.allowances.minMax = header(sql, "allow") == "min-max"
        if let p = header(sql, "params") {
            c.allowances.parameters = Dictionary(uniqueKeysWithValues: p.split(separator: ",").map { kv in
                let parts = kv.split(separator: ":").map(String.init)
                return (parts[0], parts.count > 1 ? parts[1] : "text")
            })
        }
        return c
    }

    /// Empty tables shaped like the views, to run rewritten queries against.
    static func viewDatabase() throws -> Database {
        let db = try Database.inMemory()
        for v in Schema.tally.views.values {
            try db.execute("CREATE TABLE \(v.name)(\(v.columns.map { Printer.identifier($0.name) }.joined(separator: ", ")))")
        }
        return db
    }
}

@Suite struct GoldenCheckTests {
    @Test func thereAreAtLeast150Cases() {
        #expect(Golden.cases.count >= 150)
    }

    @Test(arguments: Golden.cases)
    func checkOutputMatchesGolden(_ name: String) throws {
        let sql = try String(contentsOf: Golden.dir.appendingPathComponent(name), encoding: .utf8)
        let expect = try #require(Golden.header(sql, "expect"), "\(name) has no -- expect: header")
        let checker = try Golden.checker(for: sql)
        let outcome: Result<QueryChecker.Result, SQLError>
        do { outcome = .success(try checker.check(sql)) } catch { outcome = .failure(error) }
        let output: String
        switch outcome {
        case .success(let r):
            output = QueryChecker.report(r)
            #expect(expect == "ok", "\(name) was accepted but is meant to be refused under \(expect)")
            // The normalised SQL means the same tree; the rewritten SQL runs in SQLite.
            #expect(try Parser.parse(r.normalised) == r.tree)
            let db = try Golden.viewDatabase()
            let stmt = try db.prepare(r.rewrite.sql)
            #expect(stmt.columnCount == r.rewrite.plan.siteColumns.count)
            while try stmt.step() {}
        case .failure(let e):
            output = e.description + "\n"
            #expect(expect == e.rule, "\(name): expected \(expect), got \(e)")
        }
        let goldenURL = Golden.dir.appendingPathComponent(name.replacingOccurrences(of: ".sql", with: ".out"))
        if ProcessInfo.processInfo.environment["TALLY_UPDATE_GOLDEN"] != nil {
            try output.write(to: goldenURL, atomically: true, encoding: .utf8)
            return
        }
        let golden = try String(contentsOf: goldenURL, encoding: .utf8)
        #expect(output == golden, "\(name) output differs from its golden file")
    }
}
