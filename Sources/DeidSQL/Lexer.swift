/// A position in the query text (1-based line and column, 0-based byte offset).
/// Positions never take part in equality: two trees are equal when they say the same thing.
public struct SourcePos: Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var offset: Int

    public init(line: Int, column: Int, offset: Int) {
        self.line = line
        self.column = column
        self.offset = offset
    }

    public static let none = SourcePos(line: 0, column: 0, offset: 0)
    public static func == (a: SourcePos, b: SourcePos) -> Bool { true }
    public func hash(into h: inout Hasher) {}
    public var description: String { "line \(line), column \(column)" }
}

public enum TokenKind: Equatable, Sendable {
    /// A bare word: keyword or identifier (keywords are recognised by the parser, case-insensitively).
    case word(String)
    /// A quoted identifier ("x", [x], `x`), already unquoted.
    case quotedIdentifier(String)
    case string(String)
    case blob(String) // hex digits
    case integer(String)
    case real(String)
    /// `?`, `?NNN`, `:name`, `@name`, `$name` — the text as written.
    case parameter(String)
    case op(String)
    case end
}

public struct Token: Sendable {
    public var kind: TokenKind
    public var pos: SourcePos
}

/// Limits that keep hostile input from costing unbounded time or memory.
public struct ParserLimits: Sendable {
    public var maxLength = 100_000
    public var maxDepth = 128
    public var maxTokens = 50_000
    public init() {}
}

public struct SQLError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Stable rule code (`syntax`, `R1` … `R6`, `schema`, `limit`, …).
    public var rule: String
    public var message: String
    public var pos: SourcePos
    public var hint: String?

    public init(rule: String, message: String, pos: SourcePos, hint: String? = nil) {
        self.rule = rule
        self.message = message
        self.pos = pos
        self.hint = hint
    }

    public static func == (a: SQLError, b: SQLError) -> Bool {
        a.rule == b.rule && a.message == b.message && a.pos.line == b.pos.line && a.pos.column == b.pos.column && a.hint == b.hint
    }

    public var description: String {
        var s = "error[\(rule)]: line \(pos.line), column \(pos.column): \(message)"
        if let hint { s += "\n  hint: \(hint)" }
        return s
    }
}

/// SQLite's tokenizer rules: `--` and `/* */` comments, '' escapes in strings, "" / [] / `` quoted
/// identifiers, X'..' blobs, decimal, real and 0x hex numbers, and the five parameter forms.
struct Lexer {
    let bytes: [UInt8]
    var i = 0
    var line = 1
    var lineStart = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    /// Column bookkeeping is incremental (tokens come in order), so long lines stay linear.
    var columnMarkOffset = 0
    var columnMarkValue = 1

    var pos: SourcePos {
        mutating get { SourcePos(line: line, column: column(at: i), offset: i) }
    }

    mutating func column(at offset: Int) -> Int {
        // Columns count characters, not bytes (UTF-8 continuation bytes do not advance the column).
        if columnMarkOffset < lineStart || columnMarkOffset > offset {
            columnMarkOffset = lineStart
            columnMarkValue = 1
        }
        var k = columnMarkOffset
        var c = columnMarkValue
        while k < offset {
            if bytes[k] & 0xC0 != 0x80 { c += 1 }
            k += 1
        }
        columnMarkOffset = offset
        columnMarkValue = c
        return c
    }

    func error(_ m: String, at p: SourcePos) -> SQLError { SQLError(rule: "syntax", message: m, pos: p) }

    static func tokenize(_ text: String, limits: ParserLimits) throws(SQLError) -> [Token] {
        var lx = Lexer(text)
        guard lx.bytes.count <= limits.maxLength else {
            throw SQLError(rule: "limit", message: "query is \(lx.bytes.count) bytes; the limit is \(limits.maxLength)", pos: SourcePos(line: 1, column: 1, offset: 0))
        }
        var out: [Token] = []
        while true {
            let t = try lx.next()
            out.append(t)
            if t.kind == .end { return out }
            if out.count > limits.maxTokens {
                throw SQLError(rule: "limit", message: "query has more than \(limits.maxTokens) tokens", pos: t.pos)
            }
        }
    }

    static func isIdentStart(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c >= 0x80 }
    static func isIdentChar(_ c: UInt8) -> Bool { isIdentStart(c) || (c >= 0x30 && c <= 0x39) || c == 0x24 }
    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    func peek(_ k: Int = 0) -> UInt8? { i + k < bytes.count ? bytes[i + k] : nil }

    func text(_ a: Int, _ b: Int) -> String { String(decoding: bytes[a..<b], as: UTF8.self) }

    mutating func newline() {
        line += 1
        lineStart = i
    }

    mutating func skipSpaceAndComments() throws(SQLError) {
        while let c = peek() {
            if c == 0x0A { i += 1; newline(); continue }
            if c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0C || c == 0x0B { i += 1; continue }
            if c == 0x2D, peek(1) == 0x2D { // -- comment
                while let d = peek(), d != 0x0A { i += 1; _ = d }
                continue
            }
            if c == 0x2F, peek(1) == 0x2A { // /* comment */ (SQLite allows it unterminated at the end)
                i += 2
                while let d = peek() {
                    if d == 0x2A, peek(1) == 0x2F { i += 2; break }
                    i += 1
                    if d == 0x0A { newline() }
                }
                continue
            }
            return
        }
    }

    mutating func next() throws(SQLError) -> Token {
        try skipSpaceAndComments()
        let p = pos
        guard let c = peek() else { return Token(kind: .end, pos: p) }
        let start = i
        // Blob literal
        if (c == 0x58 || c == 0x78), peek(1) == 0x27 {
            i += 2
            let s = i
            while let d = peek(), d != 0x27 { i += 1; _ = d }
            guard peek() == 0x27 else { throw error("unterminated blob literal", at: p) }
            let hex = text(s, i)
            i += 1
            guard hex.utf8.count % 2 == 0, hex.utf8.allSatisfy({ Lexer.isDigit($0) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }) else {
                throw error("malformed blob literal (hex digits in pairs expected)", at: p)
            }
            return Token(kind: .blob(hex), pos: p)
        }
        if Lexer.isIdentStart(c) {
            while let d = peek(), Lexer.isIdentChar(d) { i += 1 }
            return Token(kind: .word(text(start, i)), pos: p)
        }
        if Lexer.isDigit(c) || (c == 0x2E && peek(1).map(Lexer.isDigit) == true) {
            return try number(p)
        }
        switch c {
        case 0x27: // 'string'
            return Token(kind: .string(try quoted(0x27, p, what: "string literal")), pos: p)
        case 0x22: // "identifier"
            return Token(kind: .quotedIdentifier(try quoted(0x22, p, what: "quoted identifier")), pos: p)
        case 0x60: // `identifier`
            return Token(kind: .quotedIdentifier(try quoted(0x60, p, what: "quoted identifier")), pos: p)
        case 0x5B: // [identifier]
            i += 1
            let s = i
            while let d = peek(), d != 0x5D { i += 1; if d == 0x0A { newline() } }
            guard peek() == 0x5D else { throw error("unterminated [identifier]", at: p) }
            let name = text(s, i)
            i += 1
            return Token(kind: .quotedIdentifier(name), pos: p)
        case 0x3F: // ?NNN
            i += 1
            while let d = peek(), Lexer.isDigit(d) { i += 1 }
            return Token(kind: .parameter(text(start, i)), pos: p)
        case 0x3A, 0x40, 0x24: // :name @name $name
            i += 1
            while let d = peek(), Lexer.isIdentChar(d) || d == 0x3A && peek(1) == 0x3A {
                if d == 0x3A { i += 2 } else { i += 1 }
            }
            guard i > start + 1 else { throw error("parameter name expected after '\(text(start, start + 1))'", at: p) }
            return Token(kind: .parameter(text(start, i)), pos: p)
        default:
            break
        }
        // Operators, longest first.
        let three = i + 3 <= bytes.count ? text(i, i + 3) : ""
        let two = i + 2 <= bytes.count ? text(i, i + 2) : ""
        if three == "->>" { i += 3; return Token(kind: .op(three), pos: p) }
        if ["||", "<<", ">>", "<=", ">=", "==", "!=", "<>", "->"].contains(two) { i += 2; return Token(kind: .op(two), pos: p) }
        if "(),;.*/%+-<>=&|~".utf8.contains(c) { i += 1; return Token(kind: .op(text(start, i)), pos: p) }
        throw error("unexpected character '\(String(decoding: [c], as: UTF8.self))'", at: p)
    }

    mutating func quoted(_ q: UInt8, _ p: SourcePos, what: String) throws(SQLError) -> String {
        i += 1
        var out: [UInt8] = []
        while true {
            guard let d = peek() else { throw error("unterminated \(what)", at: p) }
            if d == q {
                if peek(1) == q { out.append(q); i += 2; continue }
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            out.append(d)
            i += 1
            if d == 0x0A { newline() }
        }
    }

    mutating func number(_ p: SourcePos) throws(SQLError) -> Token {
        let start = i
        if peek() == 0x30, let x = peek(1), x | 0x20 == 0x78 { // hex integer
            i += 2
            let s = i
            while let d = peek(), Lexer.isDigit(d) || (d | 0x20 >= 0x61 && d | 0x20 <= 0x66) { i += 1 }
            guard i > s else { throw error("malformed hex number", at: p) }
            if let d = peek(), Lexer.isIdentChar(d) { throw error("malformed number", at: p) }
            return Token(kind: .integer(text(start, i)), pos: p)
        }
        var real = false
        while let d = peek(), Lexer.isDigit(d) { i += 1 }
        if peek() == 0x2E {
            real = true
            i += 1
            while let d = peek(), Lexer.isDigit(d) { i += 1 }
        }
        if let e = peek(), e | 0x20 == 0x65 {
            let save = i
            i += 1
            if peek() == 0x2B || peek() == 0x2D { i += 1 }
            if let d = peek(), Lexer.isDigit(d) {
                real = true
                while let d = peek(), Lexer.isDigit(d) { i += 1 }
            } else {
                i = save
                throw error("malformed number (exponent without digits)", at: p)
            }
        }
        if let d = peek(), Lexer.isIdentChar(d) { throw error("malformed number", at: p) }
        let t = text(start, i)
        return Token(kind: real ? .real(t) : .integer(t), pos: p)
    }
}
