/// Prints a syntax tree as SQLite SQL: keywords upper-case, identifiers quoted only where needed,
/// parentheses only where precedence needs them. `parse(print(t)) == t` for every tree the parser makes.
public struct Printer {
    /// Top-level clauses on their own lines (for people); false prints one line.
    public var multiline: Bool

    public init(multiline: Bool = true) { self.multiline = multiline }

    public static func sql(_ s: Select, multiline: Bool = true) -> String { Printer(multiline: multiline).select(s, top: true) }
    public static func sql(_ e: Expr) -> String { Printer(multiline: false).expr(e) }

    // MARK: names and literals

    public static func identifier(_ s: String) -> String {
        let u = Array(s.utf8)
        let plain = !u.isEmpty && Lexer.isIdentStart(u[0]) && u.allSatisfy { Lexer.isIdentChar($0) && $0 < 0x80 }
            && !Keywords.all.contains(s.uppercased())
        return plain ? s : "\"" + s.doubling("\"") + "\""
    }

    func name(_ n: Name) -> String { Printer.identifier(n.text) }

    /// A SQL string literal ('' doubling): the one quoting path for SQL built from member-side values.
    public static func stringLiteral(_ s: String) -> String { "'" + s.doubling("'") + "'" }

    func literal(_ l: Literal) -> String {
        switch l {
        case .integer(let n), .real(let n): return n
        case .string(let s): return Printer.stringLiteral(s)
        case .blob(let b): return "X'\(b)'"
        case .null: return "NULL"
        case .currentTime: return "CURRENT_TIME"
        case .currentDate: return "CURRENT_DATE"
        case .currentTimestamp: return "CURRENT_TIMESTAMP"
        }
    }

    // MARK: expressions

    static func precedence(_ e: Expr) -> Int {
        switch e {
        case .binary(let op, _, _, _): return op.precedence
        case .unary(.not, _, _): return 3
        case .unary: return 12
        case .collate: return 11
        case .like, .between, .inList, .inSelect, .inTable, .isNull, .isOp: return 4
        default: return 13
        }
    }

    func wrap(_ e: Expr, below p: Int) -> String {
        let s = expr(e)
        return Printer.precedence(e) < p ? "(" + s + ")" : s
    }

    public func expr(_ e: Expr) -> String {
        switch e {
        case .literal(let l, _): return literal(l)
        case .column(let schema, let table, let n):
            return [schema, table, n].compactMap { $0 }.map(name).joined(separator: ".")
        case .parameter(let p, _): return p
        case .unary(let op, let x, _):
            switch op {
            case .not: return "NOT " + wrap(x, below: 3)
            default:
                // Parenthesise a nested sign so "- -1" never prints as the comment "--1".
                if case .unary = x { return op.rawValue + "(" + expr(x) + ")" }
                return op.rawValue + wrap(x, below: 12)
            }
        case .binary(let op, let l, let r, _):
            return wrap(l, below: op.precedence) + " " + op.rawValue + " " + wrap(r, below: op.precedence + 1)
        case .function(let n, let args, let filter, let over):
            var s = n.text + "("
            switch args {
            case .star: s += "*"
            case .list(let distinct, let list, let orderBy):
                if distinct { s += "DISTINCT " }
                s += list.map(expr).joined(separator: ", ")
                if !orderBy.isEmpty { s += " ORDER BY " + ordering(orderBy) }
            }
            s += ")"
            if let filter { s += " FILTER (WHERE " + expr(filter) + ")" }
            if let over {
                switch over {
                case .named(let w): s += " OVER " + name(w)
                case .window(let d): s += " OVER (" + window(d) + ")"
                }
            }
            return s
        case .cast(let x, let type, _): return "CAST(" + expr(x) + " AS " + type + ")"
        case .collate(let x, let n): return wrap(x, below: 11) + " COLLATE " + name(n)
        case .like(let x, let not, let op, let pattern, let escape, _):
            var s = wrap(x, below: 4) + (not ? " NOT " : " ") + op.rawValue + " " + wrap(pattern, below: 5)
            if let escape { s += " ESCAPE " + wrap(escape, below: 7) }
            return s
        case .between(let x, let not, let low, let high, _):
            return wrap(x, below: 4) + (not ? " NOT" : "") + " BETWEEN " + wrap(low, below: 5) + " AND " + wrap(high, below: 5)
        case .inList(let x, let not, let items, _):
            return wrap(x, below: 4) + (not ? " NOT" : "") + " IN (" + items.map(expr).joined(separator: ", ") + ")"
        case .inSelect(let x, let not, let s, _):
            return wrap(x, below: 4) + (not ? " NOT" : "") + " IN (" + select(s, top: false) + ")"
        case .inTable(let x, let not, let schema, let n, let args, _):
            var s = wrap(x, below: 4) + (not ? " NOT" : "") + " IN " + (schema.map { name($0) + "." } ?? "") + name(n)
            if let args { s += "(" + args.map(expr).joined(separator: ", ") + ")" }
            return s
        case .isNull(let x, let not, _): return wrap(x, below: 4) + (not ? " NOT NULL" : " ISNULL")
        case .isOp(let l, let not, let distinct, let r, _):
            return wrap(l, below: 4) + " IS" + (not ? " NOT" : "") + (distinct ? " DISTINCT FROM" : "") + " " + wrap(r, below: 5)
        case .exists(let not, let s, _): return (not ? "NOT " : "") + "EXISTS (" + select(s, top: false) + ")"
        case .subquery(let s, _): return "(" + select(s, top: false) + ")"
        case .caseExpr(let base, let whens, let otherwise, _):
            var s = "CASE"
            if let base { s += " " + expr(base) }
            for w in whens { s += " WHEN " + expr(w.when) + " THEN " + expr(w.then) }
            if let otherwise { s += " ELSE " + expr(otherwise) }
            return s + " END"
        case .row(let items, _): return "(" + items.map(expr).joined(separator: ", ") + ")"
        case .raise(let kind, let message, _):
            return "RAISE(" + kind + (message.map { ", " + expr($0) } ?? "") + ")"
        }
    }

    func ordering(_ terms: [OrderingTerm]) -> String {
        terms.map { t in
            var s = expr(t.expr)
            if let d = t.descending { s += d ? " DESC" : " ASC" }
            if let n = t.nulls { s += " NULLS " + n.rawValue }
            return s
        }.joined(separator: ", ")
    }

    func window(_ d: WindowDef) -> String {
        var parts: [String] = []
        if let b = d.base { parts.append(name(b)) }
        if !d.partitionBy.isEmpty { parts.append("PARTITION BY " + d.partitionBy.map(expr).joined(separator: ", ")) }
        if !d.orderBy.isEmpty { parts.append("ORDER BY " + ordering(d.orderBy)) }
        if let f = d.frame {
            func bound(_ b: Frame.Bound) -> String {
                switch b {
                case .unboundedPreceding: return "UNBOUNDED PRECEDING"
                case .unboundedFollowing: return "UNBOUNDED FOLLOWING"
                case .currentRow: return "CURRENT ROW"
                case .preceding(let e): return expr(e) + " PRECEDING"
                case .following(let e): return expr(e) + " FOLLOWING"
                }
            }
            var s = f.unit.rawValue + " "
            if let end = f.end { s += "BETWEEN " + bound(f.start) + " AND " + bound(end) } else { s += bound(f.start) }
            if let x = f.exclude { s += " EXCLUDE " + x.rawValue }
            parts.append(s)
        }
        return parts.joined(separator: " ")
    }

    // MARK: select

    public func select(_ s: Select, top: Bool) -> String {
        let nl = multiline && top ? "\n" : " "
        var out = ""
        if let w = s.with {
            out += "WITH " + (w.recursive ? "RECURSIVE " : "")
            out += w.ctes.map { c in
                var t = name(c.name)
                if !c.columns.isEmpty { t += "(" + c.columns.map(name).joined(separator: ", ") + ")" }
                t += " AS "
                if let m = c.materialized { t += m ? "MATERIALIZED " : "NOT MATERIALIZED " }
                return t + "(" + select(c.select, top: false) + ")"
            }.joined(separator: "," + nl)
            out += nl
        }
        out += core(s.first, nl: nl)
        for (op, c) in s.compounds { out += nl + op.rawValue + nl + core(c, nl: nl) }
        if !s.orderBy.isEmpty { out += nl + "ORDER BY " + ordering(s.orderBy) }
        if let l = s.limit {
            out += nl + "LIMIT " + expr(l)
            if let o = s.offset { out += " OFFSET " + expr(o) }
        } else if let o = s.offset {
            // Only reachable for trees built by hand: SQLite needs a LIMIT before OFFSET.
            out += nl + "LIMIT -1 OFFSET " + expr(o)
        }
        return out
    }

    func core(_ c: SelectCore, nl: String) -> String {
        switch c {
        case .values(let rows, _):
            return "VALUES " + rows.map { "(" + $0.map(expr).joined(separator: ", ") + ")" }.joined(separator: ", ")
        case .select(let s):
            var out = "SELECT " + (s.distinct ? "DISTINCT " : s.all ? "ALL " : "")
            out += s.columns.map { c -> String in
                switch c {
                case .star: return "*"
                case .tableStar(let t): return name(t) + ".*"
                case .expr(let e, let alias): return expr(e) + (alias.map { " AS " + name($0) } ?? "")
                }
            }.joined(separator: ", ")
            if let f = s.from { out += nl + "FROM " + table(f) }
            if let w = s.whereClause { out += nl + "WHERE " + expr(w) }
            if !s.groupBy.isEmpty { out += nl + "GROUP BY " + s.groupBy.map(expr).joined(separator: ", ") }
            if let h = s.having { out += nl + "HAVING " + expr(h) }
            if !s.windows.isEmpty {
                out += nl + "WINDOW " + s.windows.map { name($0.name) + " AS (" + window($0.def) + ")" }.joined(separator: ", ")
            }
            return out
        }
    }

    func table(_ t: TableRef) -> String {
        switch t {
        case .table(let schema, let n, let alias, let indexed):
            var s = (schema.map { name($0) + "." } ?? "") + name(n)
            if let alias { s += " AS " + name(alias) }
            if let indexed { s += indexed.isEmpty ? " NOT INDEXED" : " INDEXED BY " + Printer.identifier(indexed) }
            return s
        case .function(let schema, let n, let args, let alias):
            return (schema.map { name($0) + "." } ?? "") + name(n) + "(" + args.map(expr).joined(separator: ", ") + ")"
                + (alias.map { " AS " + name($0) } ?? "")
        case .subquery(let s, let alias, _):
            return "(" + select(s, top: false) + ")" + (alias.map { " AS " + name($0) } ?? "")
        case .join(let l, let kind, let r, let constraint):
            var s = table(l)
            switch kind {
            case .comma: s += ", "
            case .join(let natural, let k): s += (natural ? " NATURAL" : "") + (k.map { " " + $0 } ?? "") + " JOIN "
            }
            s += table(r)
            switch constraint {
            case .none: break
            case .on(let e): s += " ON " + expr(e)
            case .using(let names): s += " USING (" + names.map(name).joined(separator: ", ") + ")"
            }
            return s
        case .parenthesized(let inner, _): return "(" + table(inner) + ")"
        }
    }
}
