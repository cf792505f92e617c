import Foundation
import Ledger

/// One NDJSON line of a FHIR export, validated as JSON in a single pass into a *tape* (one entry per
/// value, each knowing where its subtree ends) without building dictionaries or strings. The mapper
/// then reads the few fields it needs; only those become Swift strings.
///
/// Why not `JSONSerialization`: it builds a `[String: Any]` tree of every field of every resource
/// (names, addresses, extensions…), which ingest then casts and frees — parsing and freeing those
/// trees was the largest part of the ingest thread. FHIR numbers may be decimals, so the ledger's
/// integer-only `JSON` does not fit either.
///
/// Accepts exactly RFC 8259 JSON: one value, white space around tokens, strings without raw control
/// characters and with valid escapes (surrogate pairs paired), numbers in JSON's grammar and a
/// Double's range, nesting at most `maxDepth` deep; a trailing comma is refused (Foundation's parser
/// lets one through). The bytes come from a Swift `String`, so they are already valid UTF-8.
/// A repeated key reads as its first occurrence.
struct FHIRJSON {
    enum Kind: UInt8 { case object, array, string, escapedString, number, bool, null }

    /// One value: for containers `start` is its first child's tape index and `end` the index after
    /// its subtree; for strings, the content's byte range (between the quotes).
    struct Node {
        var kind: Kind
        var boolValue: Bool
        var start: Int32
        var end: Int32
    }

    struct Invalid: Error {}

    static let maxDepth = 64
    /// Longer lines are refused (a FHIR resource in a bulk export is a few KiB; bounded so one bad
    /// line cannot exhaust memory).
    static let maxBytes = 16 << 20

    final class Document {
        let bytes: [UInt8]
        var tape: [Node] = []
        init(bytes: [UInt8]) { self.bytes = bytes }
    }

    let doc: Document
    let index: Int

    /// Parses one line; throws `Invalid` when it is not exactly one JSON value.
    init(parsing bytes: [UInt8]) throws {
        guard bytes.count <= FHIRJSON.maxBytes else { throw Invalid() }
        let d = Document(bytes: bytes)
        try bytes.withUnsafeBufferPointer { buf in
            var p = Parser(b: buf)
            p.skipSpace()
            try p.value(depth: 0)
            p.skipSpace()
            guard p.i == buf.count else { throw Invalid() }
            d.tape = p.tape
        }
        doc = d
        index = 0
    }

    private init(doc: Document, index: Int) {
        self.doc = doc
        self.index = index
    }

    private var node: Node { doc.tape[index] }

    var isObject: Bool { node.kind == .object }

    /// The member `key` of an object (nil for a missing key or a non-object).
    subscript(key: String) -> FHIRJSON? {
        let n = node
        guard n.kind == .object else { return nil }
        var k = Int(n.start)
        let end = Int(n.end)
        var key = key
        return key.withUTF8 { want -> FHIRJSON? in
            while k < end {
                let v = k + 1
                if doc.keyEquals(k, want) { return FHIRJSON(doc: doc, index: v) }
                let vn = doc.tape[v]
                k = (vn.kind == .object || vn.kind == .array) ? Int(vn.end) : v + 1
            }
            return nil
        }
    }

    /// The elements of an array (empty for anything else).
    var array: [FHIRJSON] {
        let n = node
        guard n.kind == .array else { return [] }
        var out: [FHIRJSON] = []
        var i = Int(n.start)
        while i < Int(n.end) {
            out.append(FHIRJSON(doc: doc, index: i))
            let c = doc.tape[i]
            i = (c.kind == .object || c.kind == .array) ? Int(c.end) : i + 1
        }
        return out
    }

    /// The first element of an array.
    var first: FHIRJSON? {
        let n = node
        guard n.kind == .array, n.start < n.end else { return nil }
        return FHIRJSON(doc: doc, index: Int(n.start))
    }

    var string: String? {
        let n = node
        switch n.kind {
        case .string:
            return doc.bytes.withUnsafeBufferPointer { String(decoding: $0[Int(n.start)..<Int(n.end)], as: UTF8.self) }
        case .escapedString:
            return FHIRJSON.decodeEscaped(doc.bytes[Int(n.start)..<Int(n.end)])
        default:
            return nil
        }
    }

    var bool: Bool? { node.kind == .bool ? node.boolValue : nil }

    /// The content of a string with escapes, decoded by the ledger's JSON parser (the tape has checked
    /// the escapes already; they are rare in exports, so this path need not be fast). Nil only if the
    /// two parsers disagreed, which reads as a missing field rather than as wrong text.
    static func decodeEscaped(_ content: ArraySlice<UInt8>) -> String? {
        (try? JSON.parse([0x22] + content + [0x22]))?.stringValue
    }

    private struct Parser {
        static let trueBytes: [UInt8] = Array("true".utf8), falseBytes: [UInt8] = Array("false".utf8), nullBytes: [UInt8] = Array("null".utf8)
        let b: UnsafeBufferPointer<UInt8>
        var tape: [Node]
        var i = 0

        init(b: UnsafeBufferPointer<UInt8>) {
            self.b = b
            tape = []
            tape.reserveCapacity(b.count / 12 + 4) // about one value per dozen bytes of FHIR
        }

        mutating func skipSpace() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }

        mutating func value(depth: Int) throws {
            guard i < b.count else { throw Invalid() }
            switch b[i] {
            case 0x7B: try container(depth: depth, kind: .object, close: 0x7D) // {…}
            case 0x5B: try container(depth: depth, kind: .array, close: 0x5D) // […]
            case 0x22:
                try string()
            case 0x74: try literal(Parser.trueBytes); tape.append(Node(kind: .bool, boolValue: true, start: 0, end: 0))
            case 0x66: try literal(Parser.falseBytes); tape.append(Node(kind: .bool, boolValue: false, start: 0, end: 0))
            case 0x6E: try literal(Parser.nullBytes); tape.append(Node(kind: .null, boolValue: false, start: 0, end: 0))
            default:
                try number()
            }
        }

        /// An object (members `"key": value`) or an array (values), at its opening bracket.
        mutating func container(depth: Int, kind: Kind, close: UInt8) throws {
            guard depth < FHIRJSON.maxDepth else { throw Invalid() }
            let at = tape.count
            tape.append(Node(kind: kind, boolValue: false, start: Int32(at + 1), end: 0))
            i += 1
            skipSpace()
            if i < b.count, b[i] == close { i += 1 } else {
                while true {
                    if kind == .object {
                        guard i < b.count, b[i] == 0x22 else { throw Invalid() }
                        try string()
                        skipSpace()
                        guard i < b.count, b[i] == 0x3A else { throw Invalid() }
                        i += 1
                        skipSpace()
                    }
                    try value(depth: depth + 1)
                    skipSpace()
                    guard i < b.count else { throw Invalid() }
                    if b[i] == 0x2C { i += 1; skipSpace(); continue }
                    guard b[i] == close else { throw Invalid() }
                    i += 1
                    break
                }
            }
            tape[at].end = Int32(tape.count)
        }

        mutating func literal(_ word: [UInt8]) throws {
            guard i + word.count <= b.count else { throw Invalid() }
            for j in 0..<word.count where b[i + j] != word[j] { throw Invalid() }
            i += word.count
        }

        mutating func digits() -> Int {
            let s = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            return i - s
        }

        /// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
        mutating func number() throws {
            let s = i
            if i < b.count, b[i] == 0x2D { i += 1 }
            guard i < b.count else { throw Invalid() }
            if b[i] == 0x30 { i += 1 } else {
                guard b[i] >= 0x31, b[i] <= 0x39 else { throw Invalid() }
                _ = digits()
            }
            if i < b.count, b[i] == 0x2E {
                i += 1
                guard digits() > 0 else { throw Invalid() }
            }
            var exponent = false
            if i < b.count, b[i] == 0x65 || b[i] == 0x45 {
                i += 1
                if i < b.count, b[i] == 0x2B || b[i] == 0x2D { i += 1 }
                guard digits() > 0 else { throw Invalid() }
                exponent = true
            }
            // Like Foundation, a number beyond a Double's range is refused (only an exponent or
            // hundreds of digits can get there, so only those are converted to check).
            if exponent || i - s > 300 {
                guard let d = Double(String(decoding: UnsafeBufferPointer(rebasing: b[s..<i]), as: UTF8.self)), d.isFinite else { throw Invalid() }
            }
            tape.append(Node(kind: .number, boolValue: false, start: Int32(s), end: Int32(i)))
        }

        func isHex(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) }

        /// The 4 hex digits at `at`, or nil.
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= b.count else { return nil }
            var v: UInt32 = 0
            for j in at..<at + 4 {
                guard isHex(b[j]) else { return nil }
                let c = b[j]
                v = v << 4 | UInt32(c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10)
            }
            return v
        }

        /// A string at `i` (on its opening quote); appends its node.
        mutating func string() throws {
            i += 1
            let s = i
            var escaped = false
            while true {
                guard i < b.count else { throw Invalid() }
                let c = b[i]
                if c == 0x22 { break }
                guard c >= 0x20 else { throw Invalid() }
                if c == 0x5C {
                    escaped = true
                    guard i + 1 < b.count else { throw Invalid() }
                    switch b[i + 1] {
                    case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: i += 2
                    case 0x75:
                        guard let u = hex4(i + 2) else { throw Invalid() }
                        i += 6
                        if (0xD800...0xDBFF).contains(u) {
                            guard i + 1 < b.count, b[i] == 0x5C, b[i + 1] == 0x75, let lo = hex4(i + 2), (0xDC00...0xDFFF).contains(lo) else { throw Invalid() }
                            i += 6
                        } else if (0xDC00...0xDFFF).contains(u) {
                            throw Invalid()
                        }
                    default: throw Invalid()
                    }
                } else {
                    i += 1
                }
            }
            tape.append(Node(kind: escaped ? .escapedString : .string, boolValue: false, start: Int32(s), end: Int32(i)))
            i += 1
        }
    }
}

extension FHIRJSON.Document {
    /// Whether the string at tape index `k` (an object key) equals `want`.
    func keyEquals(_ k: Int, _ want: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = tape[k]
        if n.kind == .escapedString { return FHIRJSON.decodeEscaped(bytes[Int(n.start)..<Int(n.end)])?.utf8.elementsEqual(want) ?? false }
        let len = Int(n.end - n.start)
        guard len == want.count else { return false }
        return bytes.withUnsafeBufferPointer { b in
            len == 0 || memcmp(b.baseAddress! + Int(n.start), want.baseAddress!, len) == 0
        }
    }
}
