import Ledger
import Testing

@Suite struct CanonicalJSONTests {
    @Test func sortsKeysAndOmitsWhitespace() throws {
        let v = try JSON.parse(#" { "b" : 1, "a" : [true, null, "x"], "é": -5 } "#)
        #expect(v.canonicalString == #"{"a":[true,null,"x"],"b":1,"é":-5}"#)
    }

    @Test func escapesMinimally() throws {
        let v = JSON.string("q\"b\\n\n\t\u{01}/é")
        #expect(v.canonicalString == #""q\"b\\n\n\t\u0001/é""#)
        #expect(try JSON.parse(v.canonicalString) == v)
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        #expect(try JSON.parse(#""\u00e9\ud83d\ude00\/""#) == .string("é😀/"))
    }

    @Test(arguments: ["1.5", "1e3", "01", "[1,]", "{\"a\":1,\"a\":2}", "\"\\ud800\"", "nul", "\"a", "[1] x", "{1:2}", "\"\u{01}\"", "99999999999999999999"])
    func refusesInvalidOrNonIntegerInput(_ text: String) {
        #expect(throws: JSONError.self) { try JSON.parse(text) }
    }

    @Test func boundsNestingDepth() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONError.self) { try JSON.parse(deep) }
        let ok = String(repeating: "[", count: 50) + String(repeating: "]", count: 50)
        #expect(throws: Never.self) { try JSON.parse(ok) }
    }

    @Test func roundTripsThroughCanonicalForm() throws {
        let v: JSON = ["z": ["nested": [1, 2, ["k": "v"]]], "a": .int(Int64.min), "m": .int(Int64.max), "e": [:], "l": []]
        #expect(try JSON.parse(v.canonicalBytes) == v)
        #expect(try JSON.parse(v.pretty()) == v)
    }
}
