import Foundation
@testable import Ingest
import Ledger
import Testing

/// The ingest's own JSON reader against Foundation's `JSONSerialization`: the same lines accepted,
/// and the same strings read from them.
@Suite struct FHIRJSONTests {
    /// Every string leaf of a Foundation tree, with its path, next to what `FHIRJSON` reads at that path.
    static func compare(_ f: Any, _ t: FHIRJSON, path: String = "") -> [String] {
        switch f {
        case let d as [String: Any]:
            guard t.isObject else { return ["\(path): not an object"] }
            return d.flatMap { k, v in t[k].map { compare(v, $0, path: path + "." + k) } ?? ["\(path).\(k): missing"] }
        case let a as [Any]:
            let elements = t.array
            guard elements.count == a.count else { return ["\(path): \(elements.count) elements, not \(a.count)"] }
            return zip(a, elements).enumerated().flatMap { i, p in compare(p.0, p.1, path: "\(path)[\(i)]") }
        case let s as String:
            return t.string == s ? [] : ["\(path): string differs"]
        default:
            return []
        }
    }

    @Test func readsEveryStringOfTheSyntheaFixtureAsFoundationDoes() throws {
        var lines = 0
        for f in try FHIRIngest.files([IngestFixture.fixture]) {
            for line in try FHIRIngest.lines(of: f) {
                let bytes = Array(line.text.utf8)
                let foundation = try JSONSerialization.jsonObject(with: Data(bytes))
                let ours = try FHIRJSON(parsing: bytes)
                let diffs = Self.compare(foundation, ours)
                #expect(diffs.isEmpty, "\(line.file):\(line.number): \(diffs.prefix(3))")
                lines += 1
            }
        }
        #expect(lines > 5000)
    }

    @Test func escapesAndNumbersAndLiterals() throws {
        let text = #" { "a" : "x\"y\\z\/\b\f\n\r\t\u00e9\ud83d\ude00" , "n": [0, -1.5e+3, 2E-2, 10], "t": true, "f": false, "z": null, "\u0041": "key" } "#
        let o = try FHIRJSON(parsing: Array(text.utf8))
        #expect(o["a"]?.string == "x\"y\\z/\u{08}\u{0C}\n\r\té😀")
        #expect(o["n"]?.array.count == 4)
        #expect(o["t"]?.bool == true && o["f"]?.bool == false && o["z"]?.string == nil)
        #expect(o["A"]?.string == "key")
        #expect(o["missing"] == nil && o["a"]?["a"] == nil)
    }

    @Test func refusesWhatIsNotExactlyOneJSONValue() {
        let bad = [#"{"a":1"#, #"{"a":1}}"#, #"{"a":01}"#, #"{"a":1.}"#, #"{"a":.5}"#, #"{"a":1e}"#, #"{"a":-}"#, #"{"a":tru}"#,
                   #"{"a":"\x"}"#, #"{"a":"\u12"}"#, #"{"a":"\ud800"}"#, #"{"a":"\udc00x"}"#, "{\"a\":\"\u{01}\"}", #"{a:1}"#,
                   #"{"a":1,}"#, #"[1,]"#, #"{"a" 1}"#, "", "   ", #"{"a":[}"#, #"{"a":"x"} x"#, #"{"a":+1}"#]
        for b in bad { #expect(throws: FHIRJSON.Invalid.self, "\(b)") { try FHIRJSON(parsing: Array(b.utf8)) } }
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: FHIRJSON.Invalid.self) { try FHIRJSON(parsing: Array(deep.utf8)) }
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect((try? FHIRJSON(parsing: Array(ok.utf8))) != nil)
    }

    /// Seeded single-byte mutations of real lines: accepted exactly when Foundation accepts them
    /// (as any JSON value), and then read alike.
    @Test func agreesWithFoundationOnMutatedLines() throws {
        var rng = SeededGenerator(seed: 11)
        let files = try FHIRIngest.files([IngestFixture.fixture])
        var samples: [[UInt8]] = []
        for f in files { samples += try FHIRIngest.lines(of: f).prefix(40).map { Array($0.text.utf8) } }
        let alphabet = Array(#"{}[]",:\"0123456789-+.eEtrufalsn u"#.utf8) + [0x5C, 0x01, 0x20]
        var accepted = 0, refused = 0
        for n in 0..<4000 {
            var b = samples[n % samples.count]
            let at = Int(rng.next() % UInt64(b.count))
            switch rng.next() % 3 {
            case 0: b[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
            case 1: b.remove(at: at)
            default: b.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
            }
            guard let text = String(validating: b, as: UTF8.self) else { continue } // ingest reads valid UTF-8 only
            let foundation = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            let ours = try? FHIRJSON(parsing: b)
            // Foundation lets a trailing comma through; RFC 8259 (and this reader) does not. Only that
            // difference is excused: without the comma, this reader must accept the line.
            if foundation != nil, ours == nil {
                let withoutTrailingComma = text.replacingOccurrences(of: ",]", with: "]").replacingOccurrences(of: ",}", with: "}")
                if withoutTrailingComma != text, (try? FHIRJSON(parsing: Array(withoutTrailingComma.utf8))) != nil { refused += 1; continue }
            }
            #expect((foundation != nil) == (ours != nil), "mutation \(n) at byte \(at)")
            if let foundation, let ours {
                #expect(Self.compare(foundation, ours).isEmpty, "mutation \(n)")
                accepted += 1
            } else {
                refused += 1
            }
        }
        #expect(accepted > 1000 && refused > 500, "\(accepted) accepted, \(refused) refused")
    }
}
