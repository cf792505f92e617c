/// How the coordinator combines one column of the sites' answers.
public enum Combine: Equatable, Sendable, CustomStringConvertible {
    case key
    case constant
    case sum
    /// COUNT(*) or COUNT(x): summed across sites; a cell between 1 and k−1 is itself suppressed.
    case count
    /// COUNT(DISTINCT …) summed across sites (an upper bound where one patient is seen at several
    /// sites); a cell between 1 and k−1 is itself suppressed.
    case sumOfDistinct
    case min
    case max
    /// The distinct patients behind the row at one site (the k-anonymity check). Never released.
    case patients

    public var description: String {
        switch self {
        case .key: return "key"
        case .constant: return "constant"
        case .sum: return "sum"
        case .count: return "count: sum, small cells suppressed"
        case .sumOfDistinct: return "distinct count: sum of per-site counts, small cells suppressed"
        case .min: return "min"
        case .max: return "max"
        case .patients: return "patients"
        }
    }
}

/// How a site answer's columns combine and which result columns the requester sees.
public struct MergePlan: Equatable, Sendable {
    public struct SiteColumn: Equatable, Sendable {
        public var name: String
        public var combine: Combine
    }

    public enum Output: Equatable, Sendable {
        case column(Int)
        /// AVG travels as SUM and COUNT and is divided after merging.
        case average(sum: Int, count: Int)
    }

    public struct OrderTerm: Equatable, Sendable {
        public var output: Int
        public var descending: Bool
    }

    /// Columns of each site's answer, by position.
    public var siteColumns: [SiteColumn]
    /// Columns of the merged result, by position, with their names.
    public var outputs: [(name: String, value: Output)]
    /// Index (in `siteColumns`) of the distinct-patient count.
    public var patientsColumn: Int
    /// Applied by the coordinator after merging (sites must not cut their answers short).
    public var orderBy: [OrderTerm]
    public var limit: Int?

    public static func == (a: MergePlan, b: MergePlan) -> Bool {
        a.siteColumns == b.siteColumns && a.patientsColumn == b.patientsColumn && a.orderBy == b.orderBy && a.limit == b.limit
            && a.outputs.count == b.outputs.count && zip(a.outputs, b.outputs).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    public var description: String {
        var lines: [String] = []
        for (i, c) in siteColumns.enumerated() {
            lines.append("site column \(i + 1): \(c.name) — \(c.combine)")
        }
        for (i, o) in outputs.enumerated() {
            switch o.value {
            case .column(let c): lines.append("result column \(i + 1): \(o.name) = site column \(c + 1)")
            case .average(let s, let c): lines.append("result column \(i + 1): \(o.name) = site column \(s + 1) / site column \(c + 1) (average)")
            }
        }
        lines.append("threshold: rows with fewer than k distinct patients (site column \(patientsColumn + 1)) are suppressed at each site and again after merging")
        if !orderBy.isEmpty {
            lines.append("order after merging: " + orderBy.map { "result column \($0.output + 1)\($0.descending ? " DESC" : "")" }.joined(separator: ", "))
        }
        if let limit { lines.append("limit after merging: \(limit)") }
        return lines.joined(separator: "\n")
    }
}

/// The result of rewriting a validated query for the members.
public struct Rewrite: Sendable {
    /// The query each member runs.
    public var select: Select
    public var sql: String
    public var plan: MergePlan
    /// Parameters the member binds: the query's own plus `:tally_now` where `now` was used.
    public var parameters: [String]
    /// The custodian's own cohort behind the aggregate: each contributing patient with the row's group
    /// keys. Run only locally (`tally cohort show`), for outreach; it never leaves the custodian.
    public var cohortSQL: String = ""
}

/// Rewrites a validated query: pins `now`, expands value sets, adds the per-row distinct-patient
/// count, decomposes AVG, moves ORDER BY and LIMIT to the coordinator, and lets the member replace
/// each view by its consent-filtered form.
public struct Rewriter {
    public static let nowParameter = ":tally_now"
    public static let patientsColumn = "tally_patients"
    /// The aggregate that counts a row's distinct patients (SQLite function registered by SQLiteStore).
    public static let distinctPatientsFunction = "tally_patients"

    public let valueSets: [String: ValueSet]
    /// The member's consent-filter hook: given a view name, the table expression to read instead
    /// (e.g. a subquery restricted to consented patients). Nil leaves the view as is.
    public var viewSubstitution: ((String) -> TableRef?)?

    public init(valueSets: [String: ValueSet] = [:], viewSubstitution: ((String) -> TableRef?)? = nil) {
        self.valueSets = valueSets
        self.viewSubstitution = viewSubstitution
    }

    public func rewrite(_ original: Select, validated top: Validator.TopLevel) throws(SQLError) -> Rewrite {
        var usesNow = false
        var s = mapSelect(original) { e in transform(e, usesNow: &usesNow) }
        if let sub = viewSubstitution {
            // Views are replaced everywhere they are read: FROM clauses, and subqueries inside
            // expressions (EXISTS, IN (SELECT …), scalar subqueries), so a consent filter holds in all.
            s = mapSelect(substitute(s, sub)) { e in
                switch e {
                case .exists(let not, let q, let p): return .exists(not: not, substitute(q, sub), p)
                case .inSelect(let x, let not, let q, let p): return .inSelect(x, not: not, substitute(q, sub), p)
                case .subquery(let q, let p): return .subquery(substitute(q, sub), p)
                default: return e
                }
            }
        }
        guard case .select(var clause) = s.first else { throw SQLError(rule: "R2", message: "not a SELECT", pos: original.pos) }

        var columns: [ResultColumn] = []
        var siteColumns: [MergePlan.SiteColumn] = []
        var outputs: [(name: String, value: MergePlan.Output)] = []
        var used = Set<String>()
        func uniqueName(_ base: String) -> String {
            var n = base
            var k = 2
            while used.contains(n.lowercased()) { n = "\(base)_\(k)"; k += 1 }
            used.insert(n.lowercased())
            return n
        }
        // The rewritten clause's columns correspond one-to-one to the validated outputs.
        var rewrittenExprs: [(Expr, Name?)] = []
        var keyColumns: [ResultColumn] = []
        for c in clause.columns { if case .expr(let e, let a) = c { rewrittenExprs.append((e, a)) } }
        for (i, out) in top.outputs.enumerated() {
            let (e, alias) = rewrittenExprs[i]
            let name = uniqueName(alias?.text ?? defaultName(out.expr, index: i))
            switch out.aggregate {
            case "avg":
                guard case .function(let fname, let args, _, _) = e else { continue }
                let sumName = uniqueName(name + "__sum")
                let countName = uniqueName(name + "__count")
                columns.append(.expr(.function(name: Name("SUM", pos: fname.pos), args: args, filter: nil, over: nil), alias: Name(sumName)))
                columns.append(.expr(.function(name: Name("COUNT", pos: fname.pos), args: args, filter: nil, over: nil), alias: Name(countName)))
                siteColumns.append(.init(name: sumName, combine: .sum))
                siteColumns.append(.init(name: countName, combine: .count))
                outputs.append((name, .average(sum: siteColumns.count - 2, count: siteColumns.count - 1)))
            default:
                let combine: Combine
                switch out.aggregate {
                case "count":
                    if case .function(_, .list(true, _, _), _, _) = e { combine = .sumOfDistinct } else { combine = .count }
                case "sum", "total": combine = .sum
                case "min": combine = .min
                case "max": combine = .max
                case nil: combine = out.info.isConstant ? .constant : .key
                default: combine = .sum
                }
                columns.append(.expr(e, alias: Name(name)))
                siteColumns.append(.init(name: name, combine: combine))
                outputs.append((name, .column(siteColumns.count - 1)))
                if combine == .key { keyColumns.append(.expr(e, alias: Name(name))) }
            }
        }
        let pid = uniqueName(Rewriter.patientsColumn)
        // tally_patients(x) is COUNT(DISTINCT x) with a hash set instead of a B-tree (registered on
        // every Tally connection; see CSQLite/shim.h): the same number, a fraction of the time.
        columns.append(.expr(.function(name: Name(Rewriter.distinctPatientsFunction), args: .list(distinct: false, [top.patientRef], orderBy: []),
                                       filter: nil, over: nil), alias: Name(pid)))
        siteColumns.append(.init(name: pid, combine: .patients))
        clause.columns = columns

        // ORDER BY and LIMIT apply to the merged result.
        var order: [MergePlan.OrderTerm] = []
        for t in original.orderBy {
            guard let idx = outputIndex(t.expr, top: top, outputs: outputs) else {
                throw SQLError(rule: "R2", message: "ORDER BY must name a result column (sorting happens after merging)", pos: t.expr.pos)
            }
            order.append(.init(output: idx, descending: t.descending ?? false))
        }
        var limit: Int?
        if let l = original.limit {
            guard case .literal(.integer(let n), _) = l, let v = Int(n), v >= 0 else {
                throw SQLError(rule: "R2", message: "LIMIT must be a non-negative integer literal (it applies after merging)", pos: l.pos)
            }
            limit = v
        }
        if original.offset != nil { throw SQLError(rule: "R2", message: "OFFSET is not supported on a merged result", pos: original.offset!.pos) }
        if clause.having != nil {
            throw SQLError(rule: "R2", message: "HAVING would filter each site's partial aggregates, not the merged ones", pos: clause.having!.pos,
                           hint: "filter the merged result instead, or move the condition into WHERE")
        }
        var cohort = clause
        cohort.distinct = true
        cohort.columns = [.expr(top.patientRef, alias: Name("patient_id"))] + keyColumns
        cohort.groupBy = []
        cohort.having = nil
        var cohortSelect = s
        cohortSelect.first = .select(cohort)
        cohortSelect.orderBy = []
        cohortSelect.limit = nil
        cohortSelect.offset = nil
        s.first = .select(clause)
        s.orderBy = []
        s.limit = nil
        s.offset = nil
        var params = Set<String>()
        collectParameters(s, into: &params)
        if usesNow { params.insert(Rewriter.nowParameter) }
        return Rewrite(select: s, sql: Printer.sql(s), plan: MergePlan(siteColumns: siteColumns, outputs: outputs, patientsColumn: siteColumns.count - 1,
                                                                         orderBy: order, limit: limit),
                       parameters: params.sorted(), cohortSQL: Printer.sql(cohortSelect))
    }

    func defaultName(_ e: Expr, index: Int) -> String {
        if case .column(_, _, let n) = e { return n.text }
        if case .function(let n, _, _, _) = e { return n.folded }
        return "column\(index + 1)"
    }

    func outputIndex(_ e: Expr, top: Validator.TopLevel, outputs: [(name: String, value: MergePlan.Output)]) -> Int? {
        if case .literal(.integer(let n), _) = e, let k = Int(n), k >= 1, k <= outputs.count { return k - 1 }
        if case .column(nil, nil, let n) = e {
            if let i = top.outputs.firstIndex(where: { $0.alias?.folded == n.folded }) { return i }
        }
        return top.outputs.firstIndex { $0.expr == e }
    }

    // MARK: expression transforms

    /// Pins `now` and expands value sets.
    func transform(_ e: Expr, usesNow: inout Bool) -> Expr {
        switch e {
        case .literal(.currentDate, let p):
            usesNow = true
            return .function(name: Name("date", pos: p), args: .list(distinct: false, [.parameter(Rewriter.nowParameter, p)], orderBy: []), filter: nil, over: nil)
        case .literal(.currentTime, let p):
            usesNow = true
            return .function(name: Name("time", pos: p), args: .list(distinct: false, [.parameter(Rewriter.nowParameter, p)], orderBy: []), filter: nil, over: nil)
        case .literal(.currentTimestamp, let p):
            usesNow = true
            return .function(name: Name("datetime", pos: p), args: .list(distinct: false, [.parameter(Rewriter.nowParameter, p)], orderBy: []), filter: nil, over: nil)
        case .function(let n, .list(let d, let args, let o), let f, let w) where Functions.dateFunctions.contains(n.folded):
            let pinned = args.map { a -> Expr in
                if case .literal(.string(let s), let p) = a, s.lowercased() == "now" {
                    usesNow = true
                    return .parameter(Rewriter.nowParameter, p)
                }
                return a
            }
            // date() with no arguments also means now.
            if pinned.isEmpty, n.folded != "strftime" {
                usesNow = true
                return .function(name: n, args: .list(distinct: d, [.parameter(Rewriter.nowParameter, n.pos)], orderBy: o), filter: f, over: w)
            }
            return .function(name: n, args: .list(distinct: d, pinned, orderBy: o), filter: f, over: w)
        case .inTable(let x, let not, nil, let n, let args?, let p) where n.folded == "valueset":
            guard args.count == 1, case .literal(.string(let name), _) = args[0], let vs = valueSets[name] else { return e }
            // With a code system column beside the code, match (system, code) pairs so a code that
            // exists in two systems cannot match by accident.
            if case .column(let sc, let t, let c) = x, c.folded == "code" {
                let system = Expr.column(schema: sc, table: t, name: Name("system", pos: c.pos))
                let rows = vs.codes.map { [Expr.literal(.string($0.system), p), .literal(.string($0.code), p)] }
                let values = Select(with: nil, first: .values(rows, p), compounds: [], orderBy: [], limit: nil, offset: nil, pos: p)
                return .inSelect(.row([system, x], p), not: not, values, p)
            }
            return .inList(x, not: not, Array(Set(vs.codes.map(\.code))).sorted().map { .literal(.string($0), p) }, p)
        default:
            return e
        }
    }

    func substitute(_ s: Select, _ f: (String) -> TableRef?) -> Select {
        var out = s
        func table(_ t: TableRef, ctes: Set<String>) -> TableRef {
            switch t {
            case .table(nil, let n, let alias, _) where !ctes.contains(n.folded):
                guard let repl = f(n.folded) else { return t }
                if case .subquery(let q, _, let p) = repl { return .subquery(q, alias: alias ?? n, p) }
                return repl
            case .join(let l, let k, let r, let c): return .join(table(l, ctes: ctes), k, table(r, ctes: ctes), c)
            case .parenthesized(let inner, let p): return .parenthesized(table(inner, ctes: ctes), p)
            case .subquery(let q, let a, let p): return .subquery(substitute(q, f), alias: a, p)
            default: return t
            }
        }
        let cteNames = Set(s.with?.ctes.map(\.name.folded) ?? [])
        if var w = out.with {
            w.ctes = w.ctes.map { var c = $0; c.select = substitute(c.select, f); return c }
            out.with = w
        }
        func core(_ c: SelectCore) -> SelectCore {
            guard case .select(var cl) = c else { return c }
            if let fr = cl.from { cl.from = table(fr, ctes: cteNames) }
            return .select(cl)
        }
        out.first = core(out.first)
        out.compounds = out.compounds.map { ($0.0, core($0.1)) }
        return out
    }

    func collectParameters(_ s: Select, into out: inout Set<String>) {
        _ = mapSelect(s) { e in
            if case .parameter(let p, _) = e { out.insert(p) }
            return e
        }
    }
}

/// Applies `f` bottom-up to every expression in a select, including nested selects.
func mapSelect(_ s: Select, _ f: (Expr) -> Expr) -> Select {
    var out = s
    if var w = out.with {
        w.ctes = w.ctes.map { var c = $0; c.select = mapSelect(c.select, f); return c }
        out.with = w
    }
    out.first = mapCore(out.first, f)
    out.compounds = out.compounds.map { ($0.0, mapCore($0.1, f)) }
    out.orderBy = out.orderBy.map { var t = $0; t.expr = mapExpr(t.expr, f); return t }
    out.limit = out.limit.map { mapExpr($0, f) }
    out.offset = out.offset.map { mapExpr($0, f) }
    return out
}

func mapCore(_ c: SelectCore, _ f: (Expr) -> Expr) -> SelectCore {
    switch c {
    case .values(let rows, let p): return .values(rows.map { $0.map { mapExpr($0, f) } }, p)
    case .select(var s):
        s.columns = s.columns.map { c in
            if case .expr(let e, let a) = c { return .expr(mapExpr(e, f), alias: a) }
            return c
        }
        s.from = s.from.map { mapTable($0, f) }
        s.whereClause = s.whereClause.map { mapExpr($0, f) }
        s.groupBy = s.groupBy.map { mapExpr($0, f) }
        s.having = s.having.map { mapExpr($0, f) }
        return .select(s)
    }
}

func mapTable(_ t: TableRef, _ f: (Expr) -> Expr) -> TableRef {
    switch t {
    case .table: return t
    case .function(let s, let n, let args, let a): return .function(schema: s, name: n, args: args.map { mapExpr($0, f) }, alias: a)
    case .subquery(let q, let a, let p): return .subquery(mapSelect(q, f), alias: a, p)
    case .join(let l, let k, let r, let c):
        var cc = c
        if case .on(let e) = c { cc = .on(mapExpr(e, f)) }
        return .join(mapTable(l, f), k, mapTable(r, f), cc)
    case .parenthesized(let inner, let p): return .parenthesized(mapTable(inner, f), p)
    }
}

func mapExpr(_ e: Expr, _ f: (Expr) -> Expr) -> Expr {
    withoutActuallyEscaping(f) { f in mapExprEscaping(e, f) }
}

private func mapExprEscaping(_ e: Expr, _ f: @escaping (Expr) -> Expr) -> Expr {
    let m = { (x: Expr) in mapExprEscaping(x, f) }
    let inner: Expr
    switch e {
    case .literal, .column, .parameter: inner = e
    case .unary(let op, let x, let p): inner = .unary(op, m(x), p)
    case .binary(let op, let l, let r, let p): inner = .binary(op, m(l), m(r), p)
    case .function(let n, let args, let filter, let over):
        var a = args
        if case .list(let d, let l, let o) = args { a = .list(distinct: d, l.map(m), orderBy: o.map { var t = $0; t.expr = m(t.expr); return t }) }
        inner = .function(name: n, args: a, filter: filter.map(m), over: over)
    case .cast(let x, let t, let p): inner = .cast(m(x), type: t, p)
    case .collate(let x, let n): inner = .collate(m(x), n)
    case .like(let x, let not, let op, let pat, let esc, let p): inner = .like(m(x), not: not, op, pattern: m(pat), escape: esc.map(m), p)
    case .between(let x, let not, let lo, let hi, let p): inner = .between(m(x), not: not, low: m(lo), high: m(hi), p)
    case .inList(let x, let not, let items, let p): inner = .inList(m(x), not: not, items.map(m), p)
    case .inSelect(let x, let not, let s, let p): inner = .inSelect(m(x), not: not, mapSelect(s, f), p)
    case .inTable(let x, let not, let s, let n, let args, let p): inner = .inTable(m(x), not: not, schema: s, name: n, args: args?.map(m), p)
    case .isNull(let x, let not, let p): inner = .isNull(m(x), not: not, p)
    case .isOp(let l, let not, let d, let r, let p): inner = .isOp(m(l), not: not, distinctFrom: d, m(r), p)
    case .exists(let not, let s, let p): inner = .exists(not: not, mapSelect(s, f), p)
    case .subquery(let s, let p): inner = .subquery(mapSelect(s, f), p)
    case .caseExpr(let b, let ws, let o, let p):
        inner = .caseExpr(base: b.map(m), whens: ws.map { CaseWhen(when: m($0.when), then: m($0.then)) }, otherwise: o.map(m), p)
    case .row(let items, let p): inner = .row(items.map(m), p)
    case .raise(let k, let msg, let p): inner = .raise(kind: k, message: msg.map(m), p)
    }
    return f(inner)
}
