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

    /// Strings without escapes take the ASCII path when every byte is ASCII and full validation
    /// otherwise: multi-byte text survives either way, and malformed UTF-8 is refused, not repaired.
    @Test func stringsAreValidatedAsUTF8() throws {
        #expect(try JSON.parse(Array(#"["plain-ascii 0123","é😀 mixed","\u00e9 after an escape é"]"#.utf8))
                == .array(["plain-ascii 0123", "é😀 mixed", "é after an escape é"]))
        for bad: [UInt8] in [[0xFF], [0xC3], [0x61, 0xE2, 0x82], [0xED, 0xA0, 0x80], [0xC0, 0xAF]] { // stray, truncated, surrogate, overlong
            #expect(throws: JSONError.self) { try JSON.parse([0x22] + bad + [0x22]) }
            #expect(throws: JSONError.self) { try JSON.parse(Array(#"{"k":""#.utf8) + bad + Array(#""}"#.utf8)) }
        }
    }

    @Test func boundsNestingDepth() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONError.self) { try JSON.parse(deep) }
        let ok = String(repeating: "[", count: 50) + String(repeating: "]", count: 50)
        #expect(throws: Never.self) { try JSON.parse(ok) }
    }

    @Test func aCanonicalObjectWrittenFieldByFieldEqualsTheEncodedDictionary() throws {
        let fields: [(String, JSON)] = [("author", "org/x"), ("commitment", "ab\"c"), ("key", "k"), ("keyset", "ks-1"), ("n", .null),
                                        ("readers", ["a", "b"]), ("sealed", "QUJD"), ("type", "Encounter"), ("version", 7),
                                        ("writers", ["a"]), ("written_at", .int(-3)), ("é", ["x": [1, true]])]
        var o = CanonicalObject()
        for (k, v) in fields { o.field(k, v) }
        #expect(o.bytes == JSON.object(Dictionary(uniqueKeysWithValues: fields)).canonicalBytes)
        #expect(CanonicalObject().bytes == JSON.object([:]).canonicalBytes)
    }

    /// Integers are written as Swift prints them: every length, both signs, both ends of Int64.
    @Test func integersEncodeAsTheirDecimalDigits() {
        var rng = SeededGenerator(seed: 11)
        var values: [Int64] = [0, 1, -1, 9, 10, -10, 99, 100, Int64.max, Int64.min, Int64.min + 1, 1_790_000_000_000]
        var power: Int64 = 1
        for _ in 1...18 { // a value of each length up to 18 digits (Int64.max has 19)
            power *= 10
            values.append(Int64.random(in: power / 10..<power, using: &rng))
        }
        values += values.filter { $0 != .min }.map { -$0 }
        for v in values { #expect(JSON.int(v).canonicalBytes == Array(String(v).utf8), "\(v)") }
    }

    @Test func roundTripsThroughCanonicalForm() throws {
        let v: JSON = ["z": ["nested": [1, 2, ["k": "v"]]], "a": .int(Int64.min), "m": .int(Int64.max), "e": [:], "l": []]
        #expect(try JSON.parse(v.canonicalBytes) == v)
        #expect(try JSON.parse(v.pretty()) == v)
    }
}

/// `parseCanonical` must accept exactly the byte strings that `parse` accepts and that re-encode to
/// themselves (the check it replaces in transaction decoding), and yield the same value.
@Suite struct StrictCanonicalParseTests {
    /// The reference: parse anything, then compare the re-encoding.
    static func reference(_ b: [UInt8]) -> JSON? {
        guard let v = try? JSON.parse(b), v.canonicalBytes == b else { return nil }
        return v
    }

    @Test(arguments: [
        #"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#, #"-5"#, #"0"#, #""q\"b\\n\n\t\u0001\u001f/é""#, #"[]"#, #"{}"#,
        #"{"":1,"a":2}"#, #"{"a":1,"aa":2,"b":3}"#, "\"\u{7f}\"", #"-9223372036854775808"#,
    ])
    func acceptsCanonicalText(_ text: String) throws {
        let b = Array(text.utf8)
        #expect(Self.reference(b) != nil)
        #expect(try JSON.parseCanonical(b) == Self.reference(b))
    }

    @Test(arguments: [
        #" {}"#, #"{} "#, #"{"a": 1}"#, #"{"b":1,"a":2}"#, #"{"a":1,"a":1}"#, #"-0"#, #""\/""#, #""\u0041""#, #""\u000A""#,
        #""\u000a""#, #""\u001F""#, #""\u00e9""#, #""\u007f""#, #"[1, 2]"#, #""\ud83d\ude00""#, #"{"a":1,}"#, #"01"#,
    ])
    func refusesNonCanonicalText(_ text: String) {
        let b = Array(text.utf8)
        #expect(Self.reference(b) == nil)
        #expect(throws: JSONError.self) { try JSON.parseCanonical(b) }
    }

    /// Seeded mutations of canonical encodings: both decisions and values agree on every one.
    @Test func agreesWithParseThenReencodeOnMutatedInput() throws {
        var rng = SeededGenerator(seed: 20261122)
        let pieces: [[UInt8]] = [" ", "\\/", "\\u0041", "\\u000a", "\\u000A", "\\u001f", "\\u001F", "\\n", "\\\"", "\\\\", "-0", "0", "é",
                                 ",", ":", "\"", "{", "}", "[", "]", "\\u00", "\\ud83d\\ude00", "\u{1}", "a", "z", "\\t", "\\b"].map { Array($0.utf8) }
        func sample(_ depth: Int) -> JSON {
            switch Int.random(in: 0..<(depth > 2 ? 4 : 6), using: &rng) {
            case 0: return .int(Int64.random(in: -1000...1000, using: &rng))
            case 1: return .string(String((0..<Int.random(in: 0...6, using: &rng)).map { _ in "ab\"\\\n\t\u{1}\u{1f}é/z".randomElement(using: &rng)! }))
            case 2: return .bool(Bool.random(using: &rng))
            case 3: return .null
            case 4: return .array((0..<Int.random(in: 0...3, using: &rng)).map { _ in sample(depth + 1) })
            default:
                var o: [String: JSON] = [:]
                for _ in 0..<Int.random(in: 0...4, using: &rng) { o[["a", "b", "aa", "", "é", "z", "B"].randomElement(using: &rng)!] = sample(depth + 1) }
                return .object(o)
            }
        }
        var accepted = 0, refused = 0
        for _ in 0..<4000 {
            var b = sample(0).canonicalBytes
            for _ in 0..<Int.random(in: 0...2, using: &rng) {
                let at = Int.random(in: 0...b.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: b.insert(contentsOf: pieces.randomElement(using: &rng)!, at: at)
                case 1: if at < b.count { b.remove(at: at) }
                default: if at + 1 < b.count { b.swapAt(at, at + 1) }
                }
            }
            let strict = try? JSON.parseCanonical(b)
            #expect(strict == Self.reference(b), "input: \(String(decoding: b, as: UTF8.self))")
            if strict != nil { accepted += 1 } else { refused += 1 }
        }
        // Both outcomes must be well represented, or the comparison proves little.
        #expect(accepted > 1000 && refused > 1000)
    }
}
