/// A recursive-descent parser for SQLite's SELECT statement (the whole grammar: WITH [RECURSIVE],
/// compound selects, every join kind, subqueries, window functions, VALUES, all literal forms).
/// Expressions use precedence climbing with SQLite's precedence table (parse.y).
public struct Parser {
    var tokens: [Token]
    var i = 0
    var depth = 0
    let limits: ParserLimits

    /// Parses exactly one SELECT statement (an optional trailing `;` is allowed).
    public static func parse(_ sql: String, limits: ParserLimits = ParserLimits()) throws(SQLError) -> Select {
        var p = Parser(tokens: try Lexer.tokenize(sql, limits: limits), limits: limits)
        return try p.statement()
    }

    init(tokens: [Token], limits: ParserLimits) {
        self.tokens = tokens
        self.limits = limits
    }

    // MARK: token helpers

    var peek: Token { tokens[i] }
    func peek(_ k: Int) -> Token { tokens[min(i + k, tokens.count - 1)] }

    mutating func advance() -> Token {
        let t = tokens[i]
        if i < tokens.count - 1 { i += 1 }
        return t
    }

    func keyword(_ t: Token) -> String? {
        if case .word(let w) = t.kind { return w.uppercased() }
        return nil
    }

    func isKeyword(_ k: String, _ offset: Int = 0) -> Bool { keyword(peek(offset)) == k }

    mutating func accept(_ k: String) -> Bool {
        if isKeyword(k) { _ = advance(); return true }
        return false
    }

    mutating func expect(_ k: String) throws(SQLError) {
        guard accept(k) else { throw unexpected(k) }
    }

    func isOp(_ o: String, _ offset: Int = 0) -> Bool { peek(offset).kind == .op(o) }

    mutating func acceptOp(_ o: String) -> Bool {
        if isOp(o) { _ = advance(); return true }
        return false
    }

    mutating func expectOp(_ o: String) throws(SQLError) {
        guard acceptOp(o) else { throw unexpected("'\(o)'") }
    }

    func describe(_ t: Token) -> String {
        switch t.kind {
        case .word(let w): return "'\(w)'"
        case .quotedIdentifier(let q): return "identifier \"\(q)\""
        case .string: return "a string literal"
        case .blob: return "a blob literal"
        case .integer(let n), .real(let n): return "number \(n)"
        case .parameter(let p): return "parameter \(p)"
        case .op(let o): return "'\(o)'"
        case .end: return "end of query"
        }
    }

    func unexpected(_ wanted: String) -> SQLError {
        SQLError(rule: "syntax", message: "expected \(wanted), found \(describe(peek))", pos: peek.pos)
    }

    mutating func enter() throws(SQLError) {
        depth += 1
        if depth > limits.maxDepth {
            throw SQLError(rule: "limit", message: "query nests deeper than \(limits.maxDepth) levels", pos: peek.pos)
        }
    }

    mutating func leave() { depth -= 1 }

    // MARK: statement

    mutating func statement() throws(SQLError) -> Select {
        while acceptOp(";") {}
        let t = peek
        if let k = keyword(t), !["SELECT", "WITH", "VALUES"].contains(k) {
            throw SQLError(rule: "R1", message: "only a SELECT statement may be submitted; found \(k)", pos: t.pos)
        }
        if case .end = t.kind { throw SQLError(rule: "syntax", message: "empty query", pos: t.pos) }
        let s = try select()
        while acceptOp(";") {}
        guard case .end = peek.kind else {
            if let k = keyword(peek), ["SELECT", "WITH", "VALUES", "INSERT", "UPDATE", "DELETE", "ATTACH", "PRAGMA", "CREATE", "DROP", "BEGIN", "COMMIT"].contains(k) {
                throw SQLError(rule: "R1", message: "only one statement may be submitted; found a second statement (\(k))", pos: peek.pos)
            }
            throw unexpected("end of query")
        }
        return s
    }

    // MARK: select

    mutating func select() throws(SQLError) -> Select {
        try enter()
        defer { leave() }
        let pos = peek.pos
        var with: With?
        if accept("WITH") {
            let recursive = accept("RECURSIVE")
            var ctes: [CommonTableExpression] = []
            repeat {
                let name = try name()
                var cols: [Name] = []
                if acceptOp("(") {
                    repeat { cols.append(try self.name()) } while acceptOp(",")
                    try expectOp(")")
                }
                try expect("AS")
                var materialized: Bool?
                if accept("MATERIALIZED") { materialized = true } else if isKeyword("NOT"), isKeyword("MATERIALIZED", 1) {
                    _ = advance(); _ = advance(); materialized = false
                }
                try expectOp("(")
                let s = try select()
                try expectOp(")")
                ctes.append(CommonTableExpression(name: name, columns: cols, materialized: materialized, select: s))
            } while acceptOp(",")
            with = With(recursive: recursive, ctes: ctes)
        }
        let first = try core()
        var compounds: [(CompoundOp, SelectCore)] = []
        while true {
            let op: CompoundOp
            if accept("UNION") { op = accept("ALL") ? .unionAll : .union }
            else if accept("INTERSECT") { op = .intersect }
            else if accept("EXCEPT") { op = .except }
            else { break }
            compounds.append((op, try core()))
        }
        var orderBy: [OrderingTerm] = []
        if accept("ORDER") {
            try expect("BY")
            orderBy = try orderingTerms()
        }
        var limit: Expr?
        var offset: Expr?
        if accept("LIMIT") {
            let a = try expr()
            if accept("OFFSET") {
                limit = a
                offset = try expr()
            } else if acceptOp(",") {
                // LIMIT offset, count
                offset = a
                limit = try expr()
            } else {
                limit = a
            }
        }
        return Select(with: with, first: first, compounds: compounds, orderBy: orderBy, limit: limit, offset: offset, pos: pos)
    }

    mutating func core() throws(SQLError) -> SelectCore {
        let pos = peek.pos
        if accept("VALUES") {
            var rows: [[Expr]] = []
            repeat {
                try expectOp("(")
                rows.append(try exprList())
                try expectOp(")")
            } while acceptOp(",")
            return .values(rows, pos)
        }
        guard accept("SELECT") else { throw unexpected("SELECT") }
        var distinct = false
        var all = false
        if accept("DISTINCT") { distinct = true } else if accept("ALL") { all = true }
        var columns: [ResultColumn] = []
        repeat { columns.append(try resultColumn()) } while acceptOp(",")
        var from: TableRef?
        if accept("FROM") { from = try joinClause() }
        var whereClause: Expr?
        if accept("WHERE") { whereClause = try expr() }
        var groupBy: [Expr] = []
        var having: Expr?
        if accept("GROUP") {
            try expect("BY")
            groupBy = try exprList()
        }
        if accept("HAVING") { having = try expr() }
        var windows: [NamedWindow] = []
        if accept("WINDOW") {
            repeat {
                let n = try name()
                try expect("AS")
                try expectOp("(")
                let d = try windowDef()
                try expectOp(")")
                windows.append(NamedWindow(name: n, def: d))
            } while acceptOp(",")
        }
        return .select(SelectClause(distinct: distinct, all: all, columns: columns, from: from, whereClause: whereClause,
                                    groupBy: groupBy, having: having, windows: windows, pos: pos))
    }

    mutating func resultColumn() throws(SQLError) -> ResultColumn {
        let t = peek
        if acceptOp("*") { return .star(t.pos) }
        // table.*
        if isIdentifierToken(peek), isOp(".", 1), isOp("*", 2) {
            let n = try name()
            _ = advance(); _ = advance()
            return .tableStar(n)
        }
        let e = try expr()
        return .expr(e, alias: try alias())
    }

    /// `AS name`, or a bare name that is not a keyword that could follow here.
    mutating func alias() throws(SQLError) -> Name? {
        if accept("AS") {
            if case .string(let s) = peek.kind { let t = advance(); return Name(s, pos: t.pos) }
            return try name()
        }
        switch peek.kind {
        case .quotedIdentifier(let q): let t = advance(); return Name(q, pos: t.pos)
        case .string(let s): let t = advance(); return Name(s, pos: t.pos)
        case .word(let w) where !Keywords.cannotBeAlias.contains(w.uppercased()): let t = advance(); return Name(w, pos: t.pos)
        default: return nil
        }
    }

    func isIdentifierToken(_ t: Token) -> Bool {
        switch t.kind {
        case .quotedIdentifier: return true
        case .word(let w): return !Keywords.reserved.contains(w.uppercased())
        default: return false
        }
    }

    mutating func name() throws(SQLError) -> Name {
        let t = peek
        switch t.kind {
        case .quotedIdentifier(let q): _ = advance(); return Name(q, pos: t.pos)
        case .word(let w) where !Keywords.reserved.contains(w.uppercased()): _ = advance(); return Name(w, pos: t.pos)
        case .string(let s): _ = advance(); return Name(s, pos: t.pos) // SQLite accepts 'name' in many name positions
        default: throw unexpected("a name")
        }
    }

    mutating func orderingTerms() throws(SQLError) -> [OrderingTerm] {
        var out: [OrderingTerm] = []
        repeat {
            let e = try expr()
            var desc: Bool?
            if accept("ASC") { desc = false } else if accept("DESC") { desc = true }
            var nulls: OrderingTerm.NullsOrder?
            if accept("NULLS") {
                if accept("FIRST") { nulls = .first } else { try expect("LAST"); nulls = .last }
            }
            out.append(OrderingTerm(expr: e, descending: desc, nulls: nulls))
        } while acceptOp(",")
        return out
    }

    mutating func exprList() throws(SQLError) -> [Expr] {
        var out: [Expr] = []
        repeat { out.append(try expr()) } while acceptOp(",")
        return out
    }

    // MARK: FROM

    mutating func joinClause() throws(SQLError) -> TableRef {
        var left = try tableOrSubquery()
        while true {
            let kind: JoinKind
            if acceptOp(",") {
                kind = .comma
            } else if let k = joinKeyword() {
                kind = k
            } else {
                break
            }
            let right = try tableOrSubquery()
            var constraint = JoinConstraint.none
            if accept("ON") {
                constraint = .on(try expr())
            } else if accept("USING") {
                try expectOp("(")
                var names: [Name] = []
                repeat { names.append(try name()) } while acceptOp(",")
                try expectOp(")")
                constraint = .using(names)
            }
            left = .join(left, kind, right, constraint)
        }
        return left
    }

    mutating func joinKeyword() -> JoinKind? {
        let save = i
        let natural = accept("NATURAL")
        var kind: String?
        if accept("LEFT") { kind = accept("OUTER") ? "LEFT OUTER" : "LEFT" }
        else if accept("RIGHT") { kind = accept("OUTER") ? "RIGHT OUTER" : "RIGHT" }
        else if accept("FULL") { kind = accept("OUTER") ? "FULL OUTER" : "FULL" }
        else if accept("INNER") { kind = "INNER" }
        else if accept("CROSS") { kind = "CROSS" }
        if accept("JOIN") { return .join(natural: natural, kind: kind) }
        i = save
        return nil
    }

    mutating func tableOrSubquery() throws(SQLError) -> TableRef {
        try enter()
        defer { leave() }
        let t = peek
        if acceptOp("(") {
            if isKeyword("SELECT") || isKeyword("WITH") || isKeyword("VALUES") {
                let s = try select()
                try expectOp(")")
                return .subquery(s, alias: try alias(), t.pos)
            }
            let inner = try joinClause()
            try expectOp(")")
            return .parenthesized(inner, t.pos)
        }
        var schema: Name?
        var n = try name()
        if acceptOp(".") {
            schema = n
            n = try name()
        }
        if acceptOp("(") {
            var args: [Expr] = []
            if !isOp(")") { args = try exprList() }
            try expectOp(")")
            return .function(schema: schema, name: n, args: args, alias: try alias())
        }
        let a = try alias()
        var indexed: String?
        if accept("INDEXED") {
            try expect("BY")
            indexed = try name().text
        } else if isKeyword("NOT"), isKeyword("INDEXED", 1) {
            _ = advance(); _ = advance()
            indexed = ""
        }
        return .table(schema: schema, name: n, alias: a, indexed: indexed)
    }

    // MARK: expressions

    public mutating func expr() throws(SQLError) -> Expr { try expr(minPrec: 1) }

    /// Precedence climbing. Levels: OR 1, AND 2, NOT 3, comparison-like (= IS IN LIKE BETWEEN …) 4,
    /// < <= > >= 5, ESCAPE 6, & | << >> 7, + - 8, * / % 9, || -> ->> 10, COLLATE 11, unary 12.
    mutating func expr(minPrec: Int) throws(SQLError) -> Expr {
        try enter()
        defer { leave() }
        var left: Expr
        if minPrec <= 3, isKeyword("NOT") {
            let t = advance()
            left = .unary(.not, try expr(minPrec: 3), t.pos)
        } else {
            left = try unary()
        }
        while true {
            let t = peek
            if isKeyword("COLLATE") {
                guard 11 >= minPrec else { break }
                _ = advance()
                left = .collate(left, try name())
                continue
            }
            if case .op(let o) = t.kind, let op = BinaryOp(rawValue: o) {
                guard op.precedence >= minPrec else { break }
                _ = advance()
                left = .binary(op, left, try expr(minPrec: op.precedence + 1), t.pos)
                continue
            }
            guard let k = keyword(t) else { break }
            if k == "OR" || k == "AND" {
                let op: BinaryOp = k == "OR" ? .or : .and
                guard op.precedence >= minPrec else { break }
                _ = advance()
                left = .binary(op, left, try expr(minPrec: op.precedence + 1), t.pos)
                continue
            }
            guard 4 >= minPrec else { break }
            // Comparison-level postfix and infix forms, with optional NOT.
            var not = false
            let save = i
            if k == "NOT" {
                let next = keyword(peek(1)) ?? ""
                guard ["IN", "LIKE", "GLOB", "REGEXP", "MATCH", "BETWEEN", "NULL"].contains(next) else { break }
                _ = advance()
                not = true
            }
            guard let k2 = keyword(peek) else { i = save; break }
            switch k2 {
            case "ISNULL", "NOTNULL":
                guard !not else { i = save; throw unexpected("IN, LIKE, GLOB, BETWEEN or NULL after NOT") }
                _ = advance()
                left = .isNull(left, not: k2 == "NOTNULL", t.pos)
            case "NULL" where not:
                _ = advance()
                left = .isNull(left, not: true, t.pos)
            case "IS":
                _ = advance()
                let isNot = accept("NOT")
                var distinct = false
                if accept("DISTINCT") {
                    try expect("FROM")
                    distinct = true
                }
                left = .isOp(left, not: isNot, distinctFrom: distinct, try expr(minPrec: 5), t.pos)
            case "BETWEEN":
                _ = advance()
                let low = try expr(minPrec: 5)
                try expect("AND")
                let high = try expr(minPrec: 5)
                left = .between(left, not: not, low: low, high: high, t.pos)
            case "LIKE", "GLOB", "REGEXP", "MATCH":
                _ = advance()
                let op = LikeOp(rawValue: k2)!
                let pattern = try expr(minPrec: 5)
                var escape: Expr?
                if accept("ESCAPE") { escape = try expr(minPrec: 7) }
                left = .like(left, not: not, op, pattern: pattern, escape: escape, t.pos)
            case "IN":
                _ = advance()
                left = try inTail(left, not: not, t.pos)
            default:
                i = save
                if not { throw unexpected("IN, LIKE, GLOB, BETWEEN or NULL after NOT") }
                return left
            }
        }
        return left
    }

    mutating func inTail(_ left: Expr, not: Bool, _ pos: SourcePos) throws(SQLError) -> Expr {
        if acceptOp("(") {
            if isKeyword("SELECT") || isKeyword("WITH") || isKeyword("VALUES") {
                let s = try select()
                try expectOp(")")
                return .inSelect(left, not: not, s, pos)
            }
            var items: [Expr] = []
            if !isOp(")") { items = try exprList() }
            try expectOp(")")
            return .inList(left, not: not, items, pos)
        }
        var schema: Name?
        var n = try name()
        if acceptOp(".") {
            schema = n
            n = try name()
        }
        var args: [Expr]?
        if acceptOp("(") {
            args = isOp(")") ? [] : try exprList()
            try expectOp(")")
        }
        return .inTable(left, not: not, schema: schema, name: n, args: args, pos)
    }

    mutating func unary() throws(SQLError) -> Expr {
        let t = peek
        if case .op(let o) = t.kind, let u = ["-": UnaryOp.minus, "+": .plus, "~": .bitNot][o] {
            try enter()
            defer { leave() }
            _ = advance()
            return .unary(u, try unary(), t.pos)
        }
        return try primary()
    }

    mutating func primary() throws(SQLError) -> Expr {
        let t = peek
        switch t.kind {
        case .integer(let n): _ = advance(); return .literal(.integer(n), t.pos)
        case .real(let n): _ = advance(); return .literal(.real(n), t.pos)
        case .string(let s): _ = advance(); return .literal(.string(s), t.pos)
        case .blob(let b): _ = advance(); return .literal(.blob(b), t.pos)
        case .parameter(let p): _ = advance(); return .parameter(p, t.pos)
        case .op("("):
            _ = advance()
            if isKeyword("SELECT") || isKeyword("WITH") || isKeyword("VALUES") {
                let s = try select()
                try expectOp(")")
                return .subquery(s, t.pos)
            }
            let first = try expr()
            if acceptOp(",") {
                var items = [first]
                items.append(contentsOf: try exprList())
                try expectOp(")")
                return .row(items, t.pos)
            }
            try expectOp(")")
            return first
        case .quotedIdentifier:
            return try columnRef()
        case .word(let w):
            switch w.uppercased() {
            case "NULL": _ = advance(); return .literal(.null, t.pos)
            case "CURRENT_TIME": _ = advance(); return .literal(.currentTime, t.pos)
            case "CURRENT_DATE": _ = advance(); return .literal(.currentDate, t.pos)
            case "CURRENT_TIMESTAMP": _ = advance(); return .literal(.currentTimestamp, t.pos)
            case "CAST":
                _ = advance()
                try expectOp("(")
                let e = try expr()
                try expect("AS")
                let type = try typeName()
                try expectOp(")")
                return .cast(e, type: type, t.pos)
            case "CASE":
                _ = advance()
                var base: Expr?
                if !isKeyword("WHEN") { base = try expr() }
                var whens: [CaseWhen] = []
                while accept("WHEN") {
                    let w = try expr()
                    try expect("THEN")
                    whens.append(CaseWhen(when: w, then: try expr()))
                }
                guard !whens.isEmpty else { throw unexpected("WHEN") }
                var otherwise: Expr?
                if accept("ELSE") { otherwise = try expr() }
                try expect("END")
                return .caseExpr(base: base, whens: whens, otherwise: otherwise, t.pos)
            case "EXISTS":
                _ = advance()
                try expectOp("(")
                let s = try select()
                try expectOp(")")
                return .exists(not: false, s, t.pos)
            case "NOT" where isKeyword("EXISTS", 1):
                _ = advance()
                return .unary(.not, try primary(), t.pos)
            case "RAISE":
                _ = advance()
                try expectOp("(")
                guard let k = keyword(peek), ["IGNORE", "ROLLBACK", "ABORT", "FAIL"].contains(k) else { throw unexpected("IGNORE, ROLLBACK, ABORT or FAIL") }
                _ = advance()
                var msg: Expr?
                if k != "IGNORE" {
                    try expectOp(",")
                    msg = try expr()
                }
                try expectOp(")")
                return .raise(kind: k, message: msg, t.pos)
            default:
                if isOp("(", 1), !Keywords.reserved.contains(w.uppercased()) || Keywords.functionKeywords.contains(w.uppercased()) {
                    return try functionCall()
                }
                if Keywords.reserved.contains(w.uppercased()) { throw unexpected("an expression") }
                return try columnRef()
            }
        default:
            throw unexpected("an expression")
        }
    }

    mutating func columnRef() throws(SQLError) -> Expr {
        let a = try name()
        guard acceptOp(".") else { return .column(schema: nil, table: nil, name: a) }
        let b = try name()
        guard acceptOp(".") else { return .column(schema: nil, table: a, name: b) }
        let c = try name()
        return .column(schema: a, table: b, name: c)
    }

    mutating func functionCall() throws(SQLError) -> Expr {
        let t = advance()
        guard case .word(let w) = t.kind else { throw unexpected("a function name") }
        let n = Name(w, pos: t.pos)
        try expectOp("(")
        let args: FunctionArgs
        if acceptOp("*") {
            args = .star
        } else if isOp(")") {
            args = .list(distinct: false, [], orderBy: [])
        } else {
            let distinct = accept("DISTINCT")
            if !distinct { _ = accept("ALL") }
            let list = try exprList()
            var order: [OrderingTerm] = []
            if accept("ORDER") {
                try expect("BY")
                order = try orderingTerms()
            }
            args = .list(distinct: distinct, list, orderBy: order)
        }
        try expectOp(")")
        var filter: Expr?
        if accept("FILTER") {
            try expectOp("(")
            try expect("WHERE")
            filter = try expr()
            try expectOp(")")
        }
        var over: Over?
        if accept("OVER") {
            if acceptOp("(") {
                over = .window(try windowDef())
                try expectOp(")")
            } else {
                over = .named(try name())
            }
        }
        return .function(name: n, args: args, filter: filter, over: over)
    }

    mutating func windowDef() throws(SQLError) -> WindowDef {
        var base: Name?
        if isIdentifierToken(peek), !["PARTITION", "ORDER", "ROWS", "RANGE", "GROUPS"].contains(keyword(peek) ?? "") {
            base = try name()
        }
        var partition: [Expr] = []
        if accept("PARTITION") {
            try expect("BY")
            partition = try exprList()
        }
        var order: [OrderingTerm] = []
        if accept("ORDER") {
            try expect("BY")
            order = try orderingTerms()
        }
        var frame: Frame?
        if let k = keyword(peek), let unit = Frame.Unit(rawValue: k) {
            _ = advance()
            var start: Frame.Bound
            var end: Frame.Bound?
            if accept("BETWEEN") {
                start = try frameBound()
                try expect("AND")
                end = try frameBound()
            } else {
                start = try frameBound()
            }
            var exclude: Frame.Exclude?
            if accept("EXCLUDE") {
                if accept("NO") { try expect("OTHERS"); exclude = .noOthers }
                else if accept("CURRENT") { try expect("ROW"); exclude = .currentRow }
                else if accept("GROUP") { exclude = .group }
                else { try expect("TIES"); exclude = .ties }
            }
            frame = Frame(unit: unit, start: start, end: end, exclude: exclude)
        }
        return WindowDef(base: base, partitionBy: partition, orderBy: order, frame: frame)
    }

    mutating func frameBound() throws(SQLError) -> Frame.Bound {
        if accept("UNBOUNDED") {
            if accept("PRECEDING") { return .unboundedPreceding }
            try expect("FOLLOWING")
            return .unboundedFollowing
        }
        if accept("CURRENT") {
            try expect("ROW")
            return .currentRow
        }
        let e = try expr()
        if accept("PRECEDING") { return .preceding(e) }
        try expect("FOLLOWING")
        return .following(e)
    }

    /// `name [name …] [(signed-number [, signed-number])]`, kept as normalised text.
    mutating func typeName() throws(SQLError) -> String {
        var words: [String] = []
        while case .word(let w) = peek.kind, !isKeyword("AS") || words.isEmpty {
            _ = advance()
            words.append(w)
        }
        while case .quotedIdentifier(let q) = peek.kind {
            _ = advance()
            words.append("\"" + q.doubling("\"") + "\"")
        }
        guard !words.isEmpty else { throw unexpected("a type name") }
        var text = words.joined(separator: " ")
        if acceptOp("(") {
            var nums: [String] = []
            repeat {
                var sign = ""
                if acceptOp("-") { sign = "-" } else if acceptOp("+") { sign = "+" }
                let t = advance()
                switch t.kind {
                case .integer(let n), .real(let n): nums.append(sign + n)
                default: throw SQLError(rule: "syntax", message: "expected a number in the type name", pos: t.pos)
                }
            } while acceptOp(",")
            try expectOp(")")
            text += "(" + nums.joined(separator: ", ") + ")"
        }
        return text
    }
}
