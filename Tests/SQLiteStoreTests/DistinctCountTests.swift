import Foundation
import SQLiteStore
import Testing

/// `tally_patients(x)` must answer exactly what `COUNT(DISTINCT x)` answers: the k-threshold rests on it.
@Suite struct DistinctCountTests {
    @Test(arguments: [1, 7, 63, 64, 65, 1000, 20000])
    func agreesWithCountDistinctOnMixedValues(rows: Int) throws {
        let db = try Database.inMemory()
        try db.execute("CREATE TABLE t(g INTEGER, x)")
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(rows)
        func next() -> UInt64 { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return seed }
        let insert = try db.prepare("INSERT INTO t VALUES (?, ?)")
        try db.execute("BEGIN")
        for _ in 0..<rows {
            let r = next()
            let v: SQLValue
            switch r % 8 {
            case 0: v = .null
            case 1: v = .integer(Int64(r >> 40) % 50)
            case 2: v = .real(Double(Int64(r >> 40) % 50))          // equals the INTEGER of the same value
            case 3: v = .real(Double(r >> 40 % 1000) + 0.5)
            case 4: v = .text("")
            case 5: v = .blob(Array(String(r % 300).utf8))
            default: v = .text("PAT-\(r % UInt64(max(rows / 3, 1)))")
            }
            try insert.run([.integer(Int64(r % 5)), v])
        }
        try db.execute("COMMIT")
        let want = try db.rows("SELECT g, COUNT(DISTINCT x) FROM t GROUP BY g ORDER BY g")
        let got = try db.rows("SELECT g, tally_patients(x) FROM t GROUP BY g ORDER BY g")
        #expect(got == want)
        // Whole table, and an empty input (0, as COUNT gives).
        #expect(try db.rows("SELECT tally_patients(x) FROM t") == db.rows("SELECT COUNT(DISTINCT x) FROM t"))
        #expect(try db.rows("SELECT tally_patients(x) FROM t WHERE 0") == [[.integer(0)]])
    }
}
