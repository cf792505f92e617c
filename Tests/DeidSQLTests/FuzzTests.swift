import DeidSQL
import Foundation
import Ledger
import Testing

/// Seeded fuzzing of the parser, validator and rewriter: mutated corpus queries and random token
/// streams must never crash or hang, and whatever parses must print back to the same tree.
/// `swift test` runs a few thousand inputs; the long run is
/// `TALLY_FUZZ_ITERATIONS=100000 swift test --filter DeidSQLFuzzTests` (seed: TALLY_FUZZ_SEED).
@Suite struct DeidSQLFuzzTests {

    static let vocabulary = [
        "SELECT", "FROM", "WHERE", "GROUP", "BY", "HAVING", "ORDER", "LIMIT", "OFFSET", "WITH", "RECURSIVE", "AS", "UNION", "ALL",
        "INTERSECT", "EXCEPT", "VALUES", "JOIN", "LEFT", "INNER", "CROSS", "NATURAL", "ON", "USING", "AND", "OR", "NOT", "IN",
        "IS", "NULL", "LIKE", "GLOB", "ESCAPE", "BETWEEN", "CASE", "WHEN", "THEN", "ELSE", "END", "CAST", "EXISTS", "DISTINCT",
        "COLLATE", "NOCASE", "OVER", "PARTITION", "FILTER", "WINDOW", "ROWS", "PRECEDING", "FOLLOWING", "CURRENT", "ROW",
        "COUNT", "SUM", "AVG", "MIN", "MAX", "json_extract", "date", "strftime", "VALUESET", "patients", "encounters",
        "conditions", "world_state", "patient_id", "age", "sex", "region", "code", "value", "key", "p", "e",
        "(", ")", ",", ".", "*", "+", "-", "/", "%", "||", "=", "==", "!=", "<>", "<", "<=", ">", ">=", "&", "|", "<<", ">>", "~",
        "->", "->>", ";", "1", "0", "42", "3.5", "1e9", "0x1F", "'x'", "'now'", "'$.region'", "'hypertension'", "X'00'",
        ":p", "?", "?1", "@a", "$b", "\"q\"", "[b]", "`c`", "/* c */", "-- c\n", "\n",
    ]

    static func corpus() -> [String] {
        var out = ParserGrammarTests.statements
        for name in Golden.cases {
            if let s = try? String(contentsOf: Golden.dir.appendingPathComponent(name), encoding: .utf8) { out.append(s) }
        }
        return out
    }

    static func mutate(_ s: String, _ rng: inout SeededGenerator) -> String {
        var words = s.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        let edits = Int.random(in: 1...4, using: &rng)
        for _ in 0..<edits {
            guard !words.isEmpty else { break }
            let i = Int.random(in: 0..<words.count, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: words.remove(at: i)
            case 1: words.insert(vocabulary.randomElement(using: &rng)!, at: i)
            case 2: words[i] = vocabulary.randomElement(using: &rng)!
            case 3: words.insert(words[i], at: i)
            case 4:
                // Truncate or cut a word in the middle (unterminated strings, half tokens).
                let w = words[i]
                if !w.isEmpty { words[i] = String(w.prefix(Int.random(in: 0..<w.count, using: &rng))) }
            default:
                let j = Int.random(in: 0..<words.count, using: &rng)
                words.swapAt(i, j)
            }
        }
        return words.joined(separator: " ")
    }

    static func randomTokens(_ rng: inout SeededGenerator) -> String {
        (0..<Int.random(in: 1...60, using: &rng)).map { _ in vocabulary.randomElement(using: &rng)! }.joined(separator: " ")
    }

    @Test func parserValidatorAndRewriterSurviveMutatedAndRandomInput() throws {
        let env = ProcessInfo.processInfo.environment
        let iterations = Int(env["TALLY_FUZZ_ITERATIONS"] ?? "") ?? 4000
        let seed = UInt64(env["TALLY_FUZZ_SEED"] ?? "") ?? 0x7A11_5EED
        var rng = SeededGenerator(seed: seed)
        let corpus = Self.corpus()
        let checker = QueryChecker(valueSets: (try? QueryChecker.loadValueSets(directory: Golden.valueSetDir)) ?? [:])
        var parsed = 0
        var accepted = 0
        var slowest = 0.0
        for i in 0..<iterations {
            let input = i % 3 == 0 ? Self.randomTokens(&rng) : Self.mutate(corpus.randomElement(using: &rng)!, &rng)
            let t0 = Date()
            if let tree = try? Parser.parse(input) {
                parsed += 1
                let printed = Printer.sql(tree)
                let again = try? Parser.parse(printed)
                #expect(again == tree, "printed SQL does not re-parse to the same tree (reproduce with TALLY_FUZZ_SEED=\(seed), iteration \(i))")
                if again != tree { break }
            }
            if (try? checker.check(input)) != nil { accepted += 1 }
            slowest = max(slowest, Date().timeIntervalSince(t0))
        }
        #expect(slowest < 2.0, "an input took \(slowest) s (reproduce with TALLY_FUZZ_SEED=\(seed))")
        #expect(parsed > 0)
        print("fuzz: \(iterations) inputs, \(parsed) parsed, \(accepted) accepted, slowest \(Int(slowest * 1000)) ms, seed \(seed)")
    }
}
