import Foundation

/// The ledger's one JSON value type and its one canonical encoding.
///
/// Canonical form (a subset of RFC 8785): object keys sorted by their UTF-8 bytes, no insignificant
/// white space, integers only (no floats: amounts are integer cents, times integer milliseconds),
/// strings escaped minimally (`\"`, `\\`, `\b\f\n\r\t`, other controls as `\u00XX`).
/// Everything that is hashed or signed goes through `canonicalBytes`.
public enum JSON: Equatable, Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case array([JSON])
    case object([String: JSON])
}

public struct JSONError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let offset: Int
    public var description: String { "malformed JSON at byte \(offset): \(message)" }
}

extension JSON {
    public static let maxDepth = 64

    // MARK: accessors

    public subscript(key: String) -> JSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var intValue: Int64? { if case .int(let i) = self { return i }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var arrayValue: [JSON]? { if case .array(let a) = self { return a }; return nil }
    public var objectValue: [String: JSON]? { if case .object(let o) = self { return o }; return nil }
    public var isNull: Bool { self == .null }

    // MARK: canonical encoding

    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        encode(into: &out)
        return out
    }

    public var canonicalString: String { String(decoding: canonicalBytes, as: UTF8.self) }

    public func encode(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let b):
            if b { out.append(contentsOf: [0x74, 0x72, 0x75, 0x65]) } else { out.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65]) }
        case .int(let i): JSON.encodeInt(i, into: &out)
        case .string(let s): JSON.encodeString(s, into: &out)
        case .array(let a):
            out.append(0x5B)
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(0x2C) }
                v.encode(into: &out)
            }
            out.append(0x5D)
        case .object(let o):
            out.append(0x7B)
            var first = true
            for (k, v) in o.sorted(by: { JSON.utf8Less($0.key, $1.key) }) {
                if !first { out.append(0x2C) }
                first = false
                JSON.encodeString(k, into: &out)
                out.append(0x3A)
                v.encode(into: &out)
            }
            out.append(0x7D)
        }
    }

    static func encodeInt(_ v: Int64, into out: inout [UInt8]) {
        if v == 0 { out.append(0x30); return }
        if v < 0 { out.append(0x2D) }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 20
        var m = v.magnitude
        withUnsafeMutableBytes(of: &digits) { d in
            while m > 0 { // the digits from the right end of the buffer, then one append
                n -= 1
                d[n] = UInt8(m % 10) + 0x30
                m /= 10
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[n...]))
        }
    }

    static func encodeString(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        var s = s
        s.withUTF8 { buf in
            // Fast path: nothing to escape (the common case) is one copy.
            var clean = true
            for b in buf where b < 0x20 || b == 0x22 || b == 0x5C { clean = false; break }
            if clean { out.append(contentsOf: buf); return }
            for b in buf {
                switch b {
                case 0x22: out.append(contentsOf: [0x5C, 0x22])
                case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
                case 0x08: out.append(contentsOf: [0x5C, 0x62])
                case 0x0C: out.append(contentsOf: [0x5C, 0x66])
                case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
                case 0x0D: out.append(contentsOf: [0x5C, 0x72])
                case 0x09: out.append(contentsOf: [0x5C, 0x74])
                case 0..<0x20:
                    let hex: StaticString = "0123456789abcdef"
                    out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex.utf8Start[Int(b >> 4)], hex.utf8Start[Int(b & 15)]])
                default: out.append(b)
                }
            }
        }
        out.append(0x22)
    }

    /// Orders object keys by their UTF-8 bytes (RFC 8785 orders by UTF-16 units; for the ASCII keys
    /// Tally writes the two agree).
    @inline(__always)
    static func utf8Less(_ a: String, _ b: String) -> Bool {
        // Borrowed views of the bytes (`withUTF8` on a copy cost about three times as much per
        // comparison, which dominated sorting a block's state keys).
        if let r = a.utf8.withContiguousStorageIfAvailable({ pa in
            b.utf8.withContiguousStorageIfAvailable { pb -> Bool in
                let n = min(pa.count, pb.count)
                if n > 0 {
                    let c = memcmp(pa.baseAddress!, pb.baseAddress!, n)
                    if c != 0 { return c < 0 }
                }
                return pa.count < pb.count
            }
        }), let less = r { return less }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    // MARK: parsing

    /// Parses strict JSON (RFC 8259) with Tally's restriction to integer numbers.
    public static func parse<C: Collection>(_ bytes: C, maxDepth: Int = JSON.maxDepth) throws -> JSON where C.Element == UInt8 {
        let buf = Array(bytes)
        var p = Parser(bytes: buf, maxDepth: maxDepth)
        p.skipWS()
        let v = try p.value(depth: 0)
        p.skipWS()
        guard p.i == buf.count else { throw p.fail("trailing characters") }
        return v
    }

    public static func parse(_ s: String) throws -> JSON { try parse(Array(s.utf8)) }

    /// Parses `bytes` only if they are already in canonical form, i.e. exactly `canonicalBytes` of
    /// the value they denote: no white space, keys in strictly ascending UTF-8 order, minimal string
    /// escapes (lower-case hex), no `-0`. One pass, without re-encoding the value to compare; the
    /// error says what is not canonical.
    public static func parseCanonical(_ bytes: [UInt8], maxDepth: Int = JSON.maxDepth) throws -> JSON {
        var p = Parser(bytes: bytes, maxDepth: maxDepth, canonical: true)
        let v = try p.value(depth: 0)
        guard p.i == bytes.count else { throw p.fail("trailing characters") }
        return v
    }

    /// The fields of a canonical JSON object whose values are all scalars (strings, numbers,
    /// booleans, null), in key order, without building a dictionary. Nil for anything else (not an
    /// object, not canonical, a nested value): callers then take the general path, which also names
    /// the fault. Small fixed-shape payloads, decoded by the thousand, are read this way.
    public static func canonicalFlatObject(_ bytes: [UInt8]) -> [(key: String, value: JSON)]? {
        var p = Parser(bytes: bytes, maxDepth: 1, canonical: true)
        guard p.skip("{") else { return nil }
        var out: [(key: String, value: JSON)] = []
        out.reserveCapacity(8)
        if p.skip("}") { return p.i == bytes.count ? out : nil }
        while true {
            guard p.i < bytes.count, bytes[p.i] == 0x22, let k = try? p.string() else { return nil }
            if let last = out.last, !JSON.utf8Less(last.key, k) { return nil }
            guard p.skip(":"), p.i < bytes.count, bytes[p.i] != 0x7B, bytes[p.i] != 0x5B,
                  let v = try? p.value(depth: 1) else { return nil }
            out.append((k, v))
            if p.skip(",") { continue }
            guard p.skip("}"), p.i == bytes.count else { return nil }
            return out
        }
    }

    struct Parser {
        let bytes: [UInt8]
        let maxDepth: Int
        /// Accept only canonical form (see `parseCanonical`).
        let canonical: Bool
        var i = 0

        init(bytes: [UInt8], maxDepth: Int, canonical: Bool = false) {
            self.bytes = bytes
            self.maxDepth = maxDepth
            self.canonical = canonical
        }

        func fail(_ m: String) -> JSONError { JSONError(message: m, offset: i) }

        /// Steps over `text` if the input continues with exactly it.
        mutating func skip(_ text: StaticString) -> Bool {
            let n = text.utf8CodeUnitCount
            guard i + n <= bytes.count else { return false }
            let t = text.utf8Start
            for k in 0..<n where bytes[i + k] != t[k] { return false }
            i += n
            return true
        }

        mutating func skipWS() {
            if canonical { return } // white space then fails as an unexpected character
            while i < bytes.count {
                switch bytes[i] {
                case 0x20, 0x09, 0x0A, 0x0D: i += 1
                default: return
                }
            }
        }

        mutating func literal(_ word: StaticString, _ v: JSON) throws -> JSON {
            let n = word.utf8CodeUnitCount
            guard i + n <= bytes.count else { throw fail("invalid literal") }
            let p = word.utf8Start
            for k in 0..<n where bytes[i + k] != p[k] { throw fail("invalid literal") }
            i += n
            return v
        }

        mutating func value(depth: Int) throws -> JSON {
            guard depth <= maxDepth else { throw fail("nesting deeper than \(maxDepth)") }
            guard i < bytes.count else { throw fail("unexpected end of input") }
            switch bytes[i] {
            case 0x7B: // {
                i += 1
                var o: [String: JSON] = [:]
                skipWS()
                if i < bytes.count, bytes[i] == 0x7D { i += 1; return .object(o) }
                var previous: String?
                while true {
                    skipWS()
                    guard i < bytes.count, bytes[i] == 0x22 else { throw fail("expected object key") }
                    let keyStart = i
                    let k = try string()
                    if canonical {
                        if let p = previous, !JSON.utf8Less(p, k) {
                            i = keyStart
                            throw fail(p == k ? "duplicate key" : "keys not in ascending order")
                        }
                        previous = k
                    }
                    skipWS()
                    guard i < bytes.count, bytes[i] == 0x3A else { throw fail("expected ':'") }
                    i += 1
                    skipWS()
                    let v = try value(depth: depth + 1)
                    guard o.updateValue(v, forKey: k) == nil else { throw fail("duplicate key") }
                    skipWS()
                    guard i < bytes.count else { throw fail("unexpected end of input") }
                    if bytes[i] == 0x2C { i += 1; continue }
                    if bytes[i] == 0x7D { i += 1; return .object(o) }
                    throw fail("expected ',' or '}'")
                }
            case 0x5B: // [
                i += 1
                var a: [JSON] = []
                skipWS()
                if i < bytes.count, bytes[i] == 0x5D { i += 1; return .array(a) }
                while true {
                    skipWS()
                    a.append(try value(depth: depth + 1))
                    skipWS()
                    guard i < bytes.count else { throw fail("unexpected end of input") }
                    if bytes[i] == 0x2C { i += 1; continue }
                    if bytes[i] == 0x5D { i += 1; return .array(a) }
                    throw fail("expected ',' or ']'")
                }
            case 0x22: return .string(try string())
            case 0x74: return try literal("true", .bool(true))
            case 0x66: return try literal("false", .bool(false))
            case 0x6E: return try literal("null", .null)
            case 0x2D, 0x30...0x39: return try number()
            default: throw fail("unexpected character")
            }
        }

        mutating func number() throws -> JSON {
            let start = i
            if bytes[i] == 0x2D { i += 1 }
            guard i < bytes.count, (0x30...0x39).contains(bytes[i]) else { throw fail("invalid number") }
            if bytes[i] == 0x30, i + 1 < bytes.count, (0x30...0x39).contains(bytes[i + 1]) { throw fail("leading zero") }
            if canonical, bytes[i] == 0x30, i > start { throw fail("-0 is not canonical") }
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
            if i < bytes.count, bytes[i] == 0x2E || bytes[i] == 0x65 || bytes[i] == 0x45 { throw fail("only integers are allowed") }
            // Accumulate negatively so Int64.min parses; overflow is an error.
            var v: Int64 = 0
            let negative = bytes[start] == 0x2D
            for k in (negative ? start + 1 : start)..<i {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (d, o2) = m.subtractingReportingOverflow(Int64(bytes[k] - 0x30))
                if o1 || o2 { throw fail("integer out of range") }
                v = d
            }
            if negative { return .int(v) }
            guard v != Int64.min else { throw fail("integer out of range") }
            return .int(-v)
        }

        mutating func hex4() throws -> UInt32 {
            guard i + 4 <= bytes.count else { throw fail("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[i]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                default: throw fail("bad \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        mutating func string() throws -> String {
            i += 1 // opening quote
            let start = i
            // Fast path: no escapes.
            var high: UInt8 = 0
            while i < bytes.count, bytes[i] != 0x22, bytes[i] != 0x5C, bytes[i] >= 0x20 { high |= bytes[i]; i += 1 }
            if i < bytes.count, bytes[i] == 0x22 {
                let range = start..<i
                i += 1
                // ASCII (most strings here: keys, hashes, pseudonyms, base64) needs no validation, and
                // building from a buffer skips the generic validating initialiser (half the time).
                if high < 0x80 { return bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[range]), as: UTF8.self) } }
                guard let str = String(validating: bytes[range], as: UTF8.self) else { throw fail("invalid UTF-8") }
                return str
            }
            var out = Array(bytes[start..<i])
            while true {
                guard i < bytes.count else { throw fail("unterminated string") }
                let c = bytes[i]
                if c == 0x22 { i += 1; break }
                if c < 0x20 { throw fail("control character in string") }
                if c != 0x5C { out.append(c); i += 1; continue }
                i += 1
                guard i < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[i]
                i += 1
                if let c = Parser.shortEscape(e) { out.append(c); continue }
                if canonical { try canonicalUnicodeEscape(e, out: &out); continue }
                switch e {
                case 0x2F: out.append(0x2F)
                case 0x75:
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard i + 6 <= bytes.count, bytes[i] == 0x5C, bytes[i + 1] == 0x75 else { throw fail("lone surrogate") }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("lone surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw fail("lone surrogate")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail("invalid code point") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw fail("invalid escape")
                }
            }
            guard let str = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8") }
            return str
        }

        /// `\"`, `\\` and the five short forms (`\b \f \n \r \t`): the byte each stands for. These are
        /// the escapes both modes accept and `encodeString` writes.
        static func shortEscape(_ e: UInt8) -> UInt8? {
            switch e {
            case 0x22: return 0x22
            case 0x5C: return 0x5C
            case 0x62: return 0x08
            case 0x66: return 0x0C
            case 0x6E: return 0x0A
            case 0x72: return 0x0D
            case 0x74: return 0x09
            default: return nil
            }
        }

        /// In canonical mode, the one other escape `encodeString` writes: `\u00xx` (lower-case hex) for
        /// a control character without a short form.
        mutating func canonicalUnicodeEscape(_ e: UInt8, out: inout [UInt8]) throws {
            switch e {
            case 0x75:
                guard i + 4 <= bytes.count, bytes[i] == 0x30, bytes[i + 1] == 0x30,
                      bytes[i + 2] == 0x30 || bytes[i + 2] == 0x31 else { throw fail("\\u escape of a character that is written as is") }
                let low = bytes[i + 3]
                let d: UInt8
                switch low {
                case 0x30...0x39: d = low - 0x30
                case 0x61...0x66: d = low - 0x61 + 10
                default: throw fail("\\u escape not in lower-case hex")
                }
                let c = (bytes[i + 2] - 0x30) << 4 | d
                guard ![0x08, 0x0C, 0x0A, 0x0D, 0x09].contains(c) else { throw fail("\\u escape of a character with a short form") }
                out.append(c)
                i += 4
            default: throw fail("escape not in canonical form")
            }
        }
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, b in b }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension JSON {
    /// Pretty, human-oriented rendering (sorted keys, two-space indent). Not for hashing.
    public func pretty(indent: String = "") -> String {
        let next = indent + "  "
        switch self {
        case .array(let a) where !a.isEmpty:
            return "[\n" + a.map { next + $0.pretty(indent: next) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .object(let o) where !o.isEmpty:
            let keys = o.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            return "{\n" + keys.map { k in
                next + JSON.string(k).canonicalString + ": " + o[k]!.pretty(indent: next)
            }.joined(separator: ",\n") + "\n" + indent + "}"
        default:
            return canonicalString
        }
    }
}

/// A JSON object written straight to its canonical bytes, fields given in canonical key order (a
/// key out of order stops the program: the bytes would not be canonical). For values written in
/// bulk, it saves building a dictionary only to sort and encode it; the bytes equal
/// `JSON.object(...).canonicalBytes` of the same fields.
public struct CanonicalObject {
    private var out: [UInt8]
    private var lastKey: String?

    public init(capacity: Int = 256) {
        out = [] // one allocation, of the capacity (a literal `[0x7B]` then grown would be two)
        out.reserveCapacity(capacity)
        out.append(0x7B)
    }

    public mutating func field(_ key: String, _ value: JSON) {
        name(key)
        value.encode(into: &out)
    }

    /// A field whose value is another object built the same way (no dictionary in between).
    public mutating func field(_ key: String, _ object: CanonicalObject) {
        name(key)
        out.append(contentsOf: object.out)
        out.append(0x7D)
    }

    private mutating func name(_ key: String) {
        if let lastKey {
            precondition(JSON.utf8Less(lastKey, key), "canonical object keys out of order")
            out.append(0x2C)
        }
        lastKey = key
        JSON.encodeString(key, into: &out)
        out.append(0x3A)
    }

    public var bytes: [UInt8] {
        var b = out
        b.append(0x7D)
        return b
    }

    /// The encoding, closed in place: no copy of the bytes when this is the object's last use.
    public consuming func finished() -> [UInt8] {
        out.append(0x7D)
        return out
    }
}

