import DeidSQL
import SQLiteStore
import Testing

/// Grammar the sqllogictest corpus does not reach: each statement parses, prints, parses back to
/// the same tree, and the printed SQL returns the same rows as the original in SQLite.
@Suite struct ParserGrammarTests {
    static let statements: [String] = [
        "WITH RECURSIVE cnt(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM cnt WHERE x < 10) SELECT sum(x) FROM cnt",
        "WITH a AS MATERIALIZED (SELECT 1 AS v), b AS NOT MATERIALIZED (SELECT v + 1 AS w FROM a) SELECT * FROM a, b",
        "SELECT a, row_number() OVER (ORDER BY a DESC) FROM t ORDER BY a",
        "SELECT a, sum(b) OVER w FROM t WINDOW w AS (PARTITION BY a % 2 ORDER BY b ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) ORDER BY a",
        "SELECT a, count(*) OVER (ORDER BY a RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE TIES) FROM t ORDER BY a",
        "SELECT a, avg(b) OVER (ORDER BY a GROUPS 1 PRECEDING) FROM t ORDER BY a",
        "SELECT count(*) FILTER (WHERE a > 2), total(b) FROM t",
        "SELECT t.a, u.c FROM t LEFT JOIN u ON u.a = t.a ORDER BY 1, 2",
        "SELECT t.a, u.c FROM t LEFT OUTER JOIN u USING (a) ORDER BY 1, 2",
        "SELECT * FROM t NATURAL JOIN u ORDER BY 1",
        "SELECT * FROM t CROSS JOIN u ORDER BY 1, 2, 3, 4",
        "SELECT * FROM t INNER JOIN u ON t.a = u.a AND u.c IS NOT NULL ORDER BY 1",
        "SELECT * FROM (t JOIN u USING (a)) ORDER BY 1",
        "SELECT x.s FROM (SELECT a + b AS s FROM t) AS x WHERE x.s > 3 ORDER BY 1",
        "SELECT a FROM t WHERE a IN (SELECT a FROM u) ORDER BY a",
        "SELECT a FROM t WHERE a NOT IN (2, 3) AND b NOT BETWEEN 1 AND 2 ORDER BY a",
        "SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a = t.a) ORDER BY a",
        "SELECT a FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.a = t.a) ORDER BY a",
        "SELECT (SELECT max(c) FROM u), a FROM t ORDER BY 2",
        "SELECT CASE a WHEN 1 THEN 'one' WHEN 2 THEN 'two' ELSE 'many' END FROM t ORDER BY 1",
        "SELECT CASE WHEN a > 2 THEN b END FROM t ORDER BY 1",
        "SELECT CAST(a AS TEXT), CAST('12.5' AS REAL), CAST(b AS VARCHAR(10)), CAST(a AS DOUBLE PRECISION) FROM t ORDER BY 1",
        "SELECT 'it''s', X'414243', 0x1F, 1e3, .5, 3.25e-2, NULL, -(-1) FROM t LIMIT 1",
        "SELECT a || 'x' COLLATE NOCASE, 'A' = 'a' COLLATE NOCASE FROM t ORDER BY 1",
        "SELECT 'abc' LIKE 'A%', 'abc' GLOB 'a*', 'a_c' LIKE 'a!_c' ESCAPE '!', 'x' NOT LIKE 'y' FROM t LIMIT 1",
        "SELECT a IS NULL, a ISNULL, a NOTNULL, a NOT NULL, a IS NOT b, a IS DISTINCT FROM b, a IS NOT DISTINCT FROM b FROM t ORDER BY 1",
        "SELECT (a, b) = (1, 2), (a, b) IN (VALUES (1, 2), (3, 4)) FROM t ORDER BY 1",
        "SELECT ~a, -a, +a, NOT a, a & 3, a | 4, a << 1, a >> 1, a % 2 FROM t ORDER BY 1",
        "SELECT 1 + 2 * 3 - 4 / 2, (1 + 2) * 3, 1 - (2 - 3), 2 * (3 % 2), 'a' || 'b' || 'c'",
        "SELECT NOT 1 = 2, NOT (1 = 2) AND 0, 1 OR 0 AND 0, (1 OR 0) AND 0",
        "SELECT 5 BETWEEN 1 AND 10 = 1, 'a' LIKE 'a' < 3, 1 = 1 < 2",
        "SELECT a FROM t UNION SELECT c FROM u ORDER BY 1",
        "SELECT a FROM t UNION ALL SELECT a FROM u INTERSECT SELECT a FROM t EXCEPT SELECT 9 ORDER BY 1",
        "SELECT DISTINCT a FROM t ORDER BY a DESC NULLS LAST",
        "SELECT ALL a FROM t ORDER BY a ASC NULLS FIRST",
        "SELECT a FROM t ORDER BY a LIMIT 2 OFFSET 1",
        "SELECT a FROM t ORDER BY a LIMIT 1, 2",
        "VALUES (1, 'a'), (2, 'b')",
        "SELECT * FROM (VALUES (1), (2)) AS v",
        "SELECT a, count(*) FROM t GROUP BY a HAVING count(*) > 0 ORDER BY a",
        "SELECT \"a\", [b], `a` AS \"the a\", t.\"b\" FROM \"t\" ORDER BY 1",
        "SELECT a AS \"select\", b AS 'quoted alias' FROM t ORDER BY 1",
        "SELECT t.* FROM t ORDER BY 1",
        "SELECT json_extract('{\"x\": [1, 2]}', '$.x[1]'), '{\"a\":1}' -> '$.a', '{\"a\":1}' ->> '$.a'",
        "SELECT date('2026-01-31', '+1 month'), strftime('%Y-%m', '2026-03-04'), julianday('2026-01-02') - julianday('2026-01-01')",
        "SELECT coalesce(NULL, 2), ifnull(NULL, 3), nullif(1, 1), iif(1, 'y', 'n'), min(1, 2), max(3, 4)",
        "SELECT group_concat(a, ',') FROM (SELECT a FROM t ORDER BY a)",
        "SELECT count(DISTINCT a), count(ALL b), count() FROM t",
        "SELECT a FROM t WHERE a = :x OR a = @y OR a = $z OR a = ?1 OR a = ?",
        "SELECT /* comment */ a -- line comment\nFROM t ORDER BY a",
        "select A from T where A>1 order by A",
        "SELECT a FROM t AS x WHERE x.a > 1 ORDER BY 1",
        "SELECT a FROM t x ORDER BY 1",
        "SELECT a FROM main.t ORDER BY 1",
        "SELECT (SELECT 1) IN (SELECT 1), EXISTS (SELECT 1 WHERE 0)",
        "WITH x AS (SELECT a FROM t) SELECT (WITH y AS (SELECT a FROM x) SELECT count(*) FROM y)",
    ]

    static func sampleDatabase() throws -> Database {
        let db = try Database.inMemory()
        try db.execute("""
        CREATE TABLE t(a INTEGER, b INTEGER);
        CREATE TABLE u(a INTEGER, c TEXT);
        INSERT INTO t VALUES (1, 10), (2, 20), (3, NULL), (4, 40), (NULL, 50);
        INSERT INTO u VALUES (1, 'x'), (3, 'y'), (5, NULL);
        """)
        return db
    }

    static func run(_ db: Database, _ sql: String) throws -> [[SQLValue]] {
        let stmt = try db.prepare(sql)
        for i in 0..<stmt.parameterCount { try stmt.bind(.integer(Int64(i + 1)), at: i + 1) }
        var rows: [[SQLValue]] = []
        while try stmt.step() { rows.append((0..<stmt.columnCount).map { stmt.value($0) }) }
        return rows
    }

    @Test(arguments: statements)
    func printsBackToTheSameTreeAndTheSameRows(_ sql: String) throws {
        let tree = try Parser.parse(sql)
        for multiline in [true, false] {
            let printed = Printer.sql(tree, multiline: multiline)
            #expect(try Parser.parse(printed) == tree, "re-parse of: \(printed)")
            let db = try Self.sampleDatabase()
            #expect(try Self.run(db, printed) == Self.run(db, sql), "rows differ for: \(printed)")
        }
    }

    @Test func positionsPointAtTheOffendingToken() throws {
        do {
            _ = try Parser.parse("SELECT a,\n  b FROM t WHERE (a >\n 1")
            Issue.record("should not parse")
        } catch {
            #expect(error.rule == "syntax")
            #expect(error.pos.line == 3 && error.pos.column == 3)
        }
        let tree = try Parser.parse("SELECT\n  é, x FROM t")
        guard case .select(let s) = tree.first, case .expr(let e, _) = s.columns[1] else { Issue.record("shape"); return }
        #expect(e.pos.line == 2 && e.pos.column == 6) // columns count characters, not bytes
    }

    @Test func inputsAreBoundedWithClearErrors() {
        var limits = ParserLimits()
        limits.maxLength = 1000
        #expect(throws: SQLError.self) { try Parser.parse("SELECT " + String(repeating: "1+", count: 600) + "1", limits: limits) }
        do {
            _ = try Parser.parse("SELECT " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000))
            Issue.record("5000 nested parentheses parsed")
        } catch {
            #expect(error.rule == "limit")
            #expect(error.message.contains("deeper"))
        }
        do {
            _ = try Parser.parse("SELECT " + String(repeating: "- ", count: 5000) + "1")
            Issue.record("5000 nested signs parsed")
        } catch {
            #expect(error.rule == "limit")
        }
    }

    @Test func nonSelectStatementsAreNamed() {
        for (sql, word) in [("INSERT INTO t VALUES (1)", "INSERT"), ("pragma foo", "PRAGMA"), ("ATTACH 'x' AS y", "ATTACH"), ("VACUUM", "VACUUM")] {
            do {
                _ = try Parser.parse(sql)
                Issue.record("\(sql) parsed")
            } catch {
                #expect(error.rule == "R1")
                #expect(error.message.contains(word))
            }
        }
    }
}

