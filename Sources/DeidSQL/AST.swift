/// The syntax tree of one SQLite SELECT statement. Every node carries the position where it starts;
/// positions are ignored by `==` (see `SourcePos`).

public struct Name: Hashable, Sendable, CustomStringConvertible {
    /// The identifier as written, without quotes.
    public var text: String
    public var pos: SourcePos
    public init(_ text: String, pos: SourcePos = .none) {
        self.text = text
        self.pos = pos
    }
    /// SQLite compares identifiers case-insensitively (ASCII).
    public var folded: String { text.lowercased() }
    public static func == (a: Name, b: Name) -> Bool { a.text == b.text }
    public func hash(into h: inout Hasher) { h.combine(text) }
    public var description: String { text }
}

public enum Literal: Hashable, Sendable {
    case integer(String)
    case real(String)
    case string(String)
    case blob(String)
    case null
    case currentTime, currentDate, currentTimestamp
}

public enum UnaryOp: String, Sendable { case minus = "-", plus = "+", bitNot = "~", not = "NOT" }

public enum BinaryOp: String, Sendable, CaseIterable {
    case or = "OR", and = "AND"
    case eq = "=", eq2 = "==", ne = "!=", ne2 = "<>"
    case lt = "<", le = "<=", gt = ">", ge = ">="
    case bitAnd = "&", bitOr = "|", shl = "<<", shr = ">>"
    case add = "+", sub = "-", mul = "*", div = "/", mod = "%"
    case concat = "||", arrow = "->", arrow2 = "->>"

    /// SQLite's precedence levels (parse.y), higher binds tighter.
    public var precedence: Int {
        switch self {
        case .or: return 1
        case .and: return 2
        case .eq, .eq2, .ne, .ne2: return 4
        case .lt, .le, .gt, .ge: return 5
        case .bitAnd, .bitOr, .shl, .shr: return 7
        case .add, .sub: return 8
        case .mul, .div, .mod: return 9
        case .concat, .arrow, .arrow2: return 10
        }
    }
}

public enum LikeOp: String, Sendable { case like = "LIKE", glob = "GLOB", regexp = "REGEXP", match = "MATCH" }

public enum FunctionArgs: Hashable, Sendable {
    case star
    case list(distinct: Bool, [Expr], orderBy: [OrderingTerm])
}

public indirect enum Expr: Hashable, Sendable {
    case literal(Literal, SourcePos)
    /// `[schema.][table.]column`
    case column(schema: Name?, table: Name?, name: Name)
    case parameter(String, SourcePos)
    case unary(UnaryOp, Expr, SourcePos)
    case binary(BinaryOp, Expr, Expr, SourcePos)
    case function(name: Name, args: FunctionArgs, filter: Expr?, over: Over?)
    case cast(Expr, type: String, SourcePos)
    case collate(Expr, Name)
    case like(Expr, not: Bool, LikeOp, pattern: Expr, escape: Expr?, SourcePos)
    case between(Expr, not: Bool, low: Expr, high: Expr, SourcePos)
    case inList(Expr, not: Bool, [Expr], SourcePos)
    case inSelect(Expr, not: Bool, Select, SourcePos)
    /// `x IN table` or `x IN schema.function(args)`
    case inTable(Expr, not: Bool, schema: Name?, name: Name, args: [Expr]?, SourcePos)
    /// `x ISNULL`, `x NOTNULL`, `x NOT NULL`
    case isNull(Expr, not: Bool, SourcePos)
    /// `x IS [NOT] [DISTINCT FROM] y`
    case isOp(Expr, not: Bool, distinctFrom: Bool, Expr, SourcePos)
    case exists(not: Bool, Select, SourcePos)
    case subquery(Select, SourcePos)
    case caseExpr(base: Expr?, whens: [CaseWhen], otherwise: Expr?, SourcePos)
    /// `(a, b, …)` with two or more values
    case row([Expr], SourcePos)
    case raise(kind: String, message: Expr?, SourcePos)

    public var pos: SourcePos {
        switch self {
        case .literal(_, let p), .parameter(_, let p), .unary(_, _, let p), .binary(_, _, _, let p), .cast(_, _, let p),
             .like(_, _, _, _, _, let p), .between(_, _, _, _, let p), .inList(_, _, _, let p), .inSelect(_, _, _, let p),
             .inTable(_, _, _, _, _, let p), .isNull(_, _, let p), .isOp(_, _, _, _, let p), .exists(_, _, let p),
             .subquery(_, let p), .caseExpr(_, _, _, let p), .row(_, let p), .raise(_, _, let p):
            return p
        case .column(let s, let t, let n): return s?.pos ?? t?.pos ?? n.pos
        case .function(let n, _, _, _): return n.pos
        case .collate(let e, _): return e.pos
        }
    }
}

public struct CaseWhen: Hashable, Sendable {
    public var when: Expr
    public var then: Expr
}

public enum Over: Hashable, Sendable {
    case named(Name)
    case window(WindowDef)
}

public struct WindowDef: Hashable, Sendable {
    public var base: Name?
    public var partitionBy: [Expr]
    public var orderBy: [OrderingTerm]
    public var frame: Frame?
}

public struct Frame: Hashable, Sendable {
    public enum Unit: String, Sendable { case rows = "ROWS", range = "RANGE", groups = "GROUPS" }
    public enum Bound: Hashable, Sendable {
        case unboundedPreceding, unboundedFollowing, currentRow
        case preceding(Expr), following(Expr)
    }
    public enum Exclude: String, Sendable { case noOthers = "NO OTHERS", currentRow = "CURRENT ROW", group = "GROUP", ties = "TIES" }
    public var unit: Unit
    public var start: Bound
    public var end: Bound?
    public var exclude: Exclude?
}

public struct OrderingTerm: Hashable, Sendable {
    public var expr: Expr
    public var descending: Bool?
    public var nulls: NullsOrder?
    public enum NullsOrder: String, Sendable { case first = "FIRST", last = "LAST" }
}

public enum ResultColumn: Hashable, Sendable {
    case star(SourcePos)
    case tableStar(Name)
    case expr(Expr, alias: Name?)
}

public enum JoinKind: Hashable, Sendable {
    case comma
    /// `[NATURAL] [LEFT|RIGHT|FULL [OUTER]|INNER|CROSS] JOIN`
    case join(natural: Bool, kind: String?)
}

public enum JoinConstraint: Hashable, Sendable {
    case none
    case on(Expr)
    case using([Name])
}

public indirect enum TableRef: Hashable, Sendable {
    case table(schema: Name?, name: Name, alias: Name?, indexed: String?)
    case function(schema: Name?, name: Name, args: [Expr], alias: Name?)
    case subquery(Select, alias: Name?, SourcePos)
    case join(TableRef, JoinKind, TableRef, JoinConstraint)
    case parenthesized(TableRef, SourcePos)
}

public struct NamedWindow: Hashable, Sendable {
    public var name: Name
    public var def: WindowDef
}

public enum SelectCore: Hashable, Sendable {
    case select(SelectClause)
    case values([[Expr]], SourcePos)
}

public struct SelectClause: Hashable, Sendable {
    public var distinct: Bool
    /// `SELECT ALL` was written (kept so printing preserves it; it means the default).
    public var all: Bool
    public var columns: [ResultColumn]
    public var from: TableRef?
    public var whereClause: Expr?
    public var groupBy: [Expr]
    public var having: Expr?
    public var windows: [NamedWindow]
    public var pos: SourcePos
}

public enum CompoundOp: String, Sendable { case union = "UNION", unionAll = "UNION ALL", intersect = "INTERSECT", except = "EXCEPT" }

public struct CommonTableExpression: Hashable, Sendable {
    public var name: Name
    public var columns: [Name]
    public var materialized: Bool?
    public var select: Select
}

public struct With: Hashable, Sendable {
    public var recursive: Bool
    public var ctes: [CommonTableExpression]
}

public struct Select: Hashable, Sendable {
    public var with: With?
    public var first: SelectCore
    public var compounds: [(CompoundOp, SelectCore)]
    public var orderBy: [OrderingTerm]
    public var limit: Expr?
    public var offset: Expr?
    public var pos: SourcePos

    public static func == (a: Select, b: Select) -> Bool {
        a.with == b.with && a.first == b.first && a.orderBy == b.orderBy && a.limit == b.limit && a.offset == b.offset
            && a.compounds.count == b.compounds.count && zip(a.compounds, b.compounds).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    public func hash(into h: inout Hasher) {
        h.combine(with)
        h.combine(first)
        for (op, c) in compounds { h.combine(op); h.combine(c) }
        h.combine(orderBy)
        h.combine(limit)
        h.combine(offset)
    }
}
