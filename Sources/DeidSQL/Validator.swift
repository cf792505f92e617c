/// Checks a parsed query against the dialect's rules (DIALECT.md):
/// R1 one SELECT, no schema access; R2 aggregate output only; R3 identifiers and quasi-identifiers
/// never leave; R4 allow-listed functions; R5 named, declared parameters; R6 `now` is pinned.
/// Also `schema`: only the documented views and columns exist.
public struct Validator {
    public let schema: Schema
    public let allowances: QueryAllowances
    /// Value-set names that `VALUESET('…')` may use.
    public let valueSets: Set<String>

    public init(schema: Schema = .tally, allowances: QueryAllowances = QueryAllowances(), valueSets: Set<String> = []) {
        self.schema = schema
        self.allowances = allowances
        self.valueSets = valueSets
    }

    /// What the rewriter needs from validation of the outermost SELECT.
    public struct TopLevel {
        public var clause: SelectClause
        /// Per output column: its info, whether it is a group key, and its aggregate (if any).
        var outputs: [(expr: Expr, alias: Name?, info: ValueInfo, aggregate: String?)]
        /// An expression naming the patient pseudonym of the first FROM source that has one.
        public var patientRef: Expr
    }

    public func validate(_ s: Select) throws(SQLError) -> TopLevel {
        var ctes: [String: [SourceColumn]] = [:]
        if let w = s.with { try withClause(w, outer: nil, ctes: &ctes) }
        if let (_, core) = s.compounds.first {
            throw SQLError(rule: "R2", message: "a compound SELECT (UNION, INTERSECT, EXCEPT) cannot be merged across sites as the final result",
                           pos: position(core), hint: "compute the compound in a CTE and aggregate over it")
        }
        guard case .select(let clause) = s.first else {
            throw SQLError(rule: "R2", message: "VALUES releases literal rows, not aggregates", pos: s.pos)
        }
        let scope = Scope(parent: nil)
        // At the top, `*` is refused, so the analysed columns are exactly the clause's expressions.
        let columns = try selectClause(clause, scope: scope, ctes: ctes, top: true)
        return try topLevel(clause, scope: scope, ctes: ctes, columnInfos: columns.map(\.info))
    }

    func position(_ c: SelectCore) -> SourcePos {
        switch c {
        case .select(let s): return s.pos
        case .values(_, let p): return p
        }
    }

    // MARK: selects

    func withClause(_ w: With, outer: Scope?, ctes: inout [String: [SourceColumn]]) throws(SQLError) {
        for cte in w.ctes {
            let key = cte.name.folded
            if w.recursive {
                // A recursive CTE reads itself: give it provisional columns, then analyse for real.
                let provisional = cteColumns(cte, from: try firstCoreColumns(cte.select, outer: outer, ctes: ctes))
                var trial = ctes
                trial[key] = provisional
                ctes[key] = cteColumns(cte, from: try selectColumns(cte.select, outer: outer, ctes: trial))
            } else {
                ctes[key] = cteColumns(cte, from: try selectColumns(cte.select, outer: outer, ctes: ctes))
            }
        }
    }

    func cteColumns(_ cte: CommonTableExpression, from cols: [SourceColumn]) -> [SourceColumn] {
        guard !cte.columns.isEmpty else { return cols }
        return cte.columns.enumerated().map { i, n in SourceColumn(name: n.folded, info: i < cols.count ? cols[i].info : .constant) }
    }

    func firstCoreColumns(_ s: Select, outer: Scope?, ctes: [String: [SourceColumn]]) throws(SQLError) -> [SourceColumn] {
        var local = ctes
        if let w = s.with { try withClause(w, outer: outer, ctes: &local) }
        return try coreColumns(s.first, outer: outer, ctes: local)
    }

    /// Analyses a nested select; returns its output columns with their lineage.
    func selectColumns(_ s: Select, outer: Scope?, ctes: [String: [SourceColumn]]) throws(SQLError) -> [SourceColumn] {
        var local = ctes
        if let w = s.with { try withClause(w, outer: outer, ctes: &local) }
        var cols = try coreColumns(s.first, outer: outer, ctes: local)
        for (_, c) in s.compounds {
            let more = try coreColumns(c, outer: outer, ctes: local)
            for i in cols.indices where i < more.count {
                // A column is the patient pseudonym only if it is on every side of the compound.
                let patient = cols[i].info.isPatient && more[i].info.isPatient
                cols[i].info.absorb(more[i].info)
                cols[i].info.isPatient = patient
            }
        }
        let scope = Scope(parent: outer)
        for t in s.orderBy { _ = try expr(t.expr, scope: scope, ctes: local, allowAggregates: true) }
        if let l = s.limit { _ = try expr(l, scope: scope, ctes: local, allowAggregates: false) }
        if let o = s.offset { _ = try expr(o, scope: scope, ctes: local, allowAggregates: false) }
        return cols
    }

    func coreColumns(_ c: SelectCore, outer: Scope?, ctes: [String: [SourceColumn]]) throws(SQLError) -> [SourceColumn] {
        switch c {
        case .values(let rows, _):
            var cols: [SourceColumn] = []
            for row in rows {
                for (i, e) in row.enumerated() {
                    let info = try expr(e, scope: Scope(parent: outer), ctes: ctes, allowAggregates: false)
                    if i < cols.count { cols[i].info.absorb(info) } else { cols.append(SourceColumn(name: "column\(i + 1)", info: info)) }
                }
            }
            return cols
        case .select(let clause):
            return try selectClause(clause, scope: Scope(parent: outer), ctes: ctes, top: false)
        }
    }

    func selectClause(_ s: SelectClause, scope: Scope, ctes: [String: [SourceColumn]], top: Bool) throws(SQLError) -> [SourceColumn] {
        if let f = s.from { try from(f, scope: scope, ctes: ctes) }
        if let w = s.whereClause {
            let info = try expr(w, scope: scope, ctes: ctes, allowAggregates: false)
            if info.hasAggregate { throw SQLError(rule: "syntax", message: "aggregate functions are not allowed in WHERE", pos: w.pos) }
        }
        var out: [SourceColumn] = []
        for c in s.columns {
            switch c {
            case .star(let p):
                if top { throw rowLevel(s, at: p, what: "SELECT * releases every column of every row") }
                for src in scope.sources { out.append(contentsOf: src.columns) }
            case .tableStar(let n):
                if top { throw rowLevel(s, at: n.pos, what: "\(n.text).* releases every column of every row") }
                guard let src = scope.sources.first(where: { $0.name == n.folded }) else {
                    throw SQLError(rule: "schema", message: "no table named \(n.text) in FROM", pos: n.pos)
                }
                out.append(contentsOf: src.columns)
            case .expr(let e, let alias):
                let info = try expr(e, scope: scope, ctes: ctes, allowAggregates: true)
                let name: String
                if let alias { name = alias.folded } else if case .column(_, _, let n) = e { name = n.folded } else { name = Printer.sql(e).lowercased() }
                out.append(SourceColumn(name: name, info: info))
                if let alias { scope.aliases[alias.folded] = (e, info) }
            }
        }
        for g in s.groupBy { _ = try expr(g, scope: scope, ctes: ctes, allowAggregates: false) }
        if let h = s.having { _ = try expr(h, scope: scope, ctes: ctes, allowAggregates: true) }
        for w in s.windows {
            throw SQLError(rule: "R4", message: "window definitions are not allowed (window functions compute per-row values)", pos: w.name.pos)
        }
        return out
    }

    func rowLevel(_ s: SelectClause, at pos: SourcePos, what: String) -> SQLError {
        SQLError(rule: "R2", message: "\(what); only aggregates may be released", pos: pos, hint: aggregateHint(s))
    }

    /// The aggregate form of a row-level query: the same FROM and WHERE, counting distinct patients.
    func aggregateHint(_ s: SelectClause) -> String {
        var c = s
        let pid: Expr
        if let f = s.from, let ref = firstPatientRef(f) { pid = ref } else { pid = .column(schema: nil, table: nil, name: Name("patient_id")) }
        c.columns = [.expr(.function(name: Name("COUNT"), args: .list(distinct: true, [pid], orderBy: []), filter: nil, over: nil), alias: Name("patients"))]
        c.groupBy = []
        c.having = nil
        c.distinct = false
        return Printer.sql(Select(with: nil, first: .select(c), compounds: [], orderBy: [], limit: nil, offset: nil, pos: s.pos), multiline: false)
    }

    /// Best-effort patient reference for hints (no validation).
    func firstPatientRef(_ t: TableRef) -> Expr? {
        switch t {
        case .table(_, let n, let alias, _):
            guard let v = schema.view(n.text), let pc = v.patientColumn else { return nil }
            return .column(schema: nil, table: alias ?? n, name: Name(pc))
        case .subquery(_, let alias, _): return alias.map { .column(schema: nil, table: $0, name: Name("patient_id")) }
        case .join(let l, _, let r, _): return firstPatientRef(l) ?? firstPatientRef(r)
        case .parenthesized(let inner, _): return firstPatientRef(inner)
        case .function: return nil
        }
    }

    // MARK: FROM

    func from(_ t: TableRef, scope: Scope, ctes: [String: [SourceColumn]]) throws(SQLError) {
        switch t {
        case .table(let schemaName, let n, let alias, let indexed):
            if let schemaName {
                throw SQLError(rule: "R1", message: "schema-qualified names (\(schemaName.text).\(n.text)) reach other databases; use the view name", pos: schemaName.pos)
            }
            if indexed != nil { throw SQLError(rule: "R1", message: "INDEXED BY / NOT INDEXED refer to the physical schema", pos: n.pos) }
            let key = n.folded
            if let cols = ctes[key] {
                scope.sources.append(Source(name: alias?.folded ?? key, columns: cols, view: nil))
                return
            }
            if key.hasPrefix("sqlite_") || key.hasPrefix("pragma_") {
                throw SQLError(rule: "R1", message: "\(n.text) is schema or engine state, which queries may not read", pos: n.pos)
            }
            guard let v = schema.view(key) else {
                throw SQLError(rule: "schema", message: "no view named \(n.text); the views are \(schema.views.keys.filter { schema.views[$0]!.directlyReadable }.sorted().joined(separator: ", "))", pos: n.pos)
            }
            guard v.directlyReadable else {
                throw SQLError(rule: "schema", message: "\(n.text) is read through the policy's consent filter, not named in queries", pos: n.pos)
            }
            let cols = v.columns.map { c -> SourceColumn in
                var info = ValueInfo()
                info.isConstant = false
                switch c.kind {
                case .identifier, .freeText, .json:
                    info.identifying = true
                    info.identifyingColumn = c.name
                    info.identifyingPos = n.pos
                case .quasiIdentifier:
                    info.quasi = true
                    info.quasiColumn = c.name
                    info.quasiPos = n.pos
                default: break
                }
                info.isPatient = c.name == v.patientColumn
                return SourceColumn(name: c.name, info: info)
            }
            scope.sources.append(Source(name: alias?.folded ?? key, columns: cols, view: v))
        case .function(_, let n, _, _):
            throw SQLError(rule: "R4", message: "table-valued function \(n.text) is not allowed", pos: n.pos)
        case .subquery(let s, let alias, let p):
            let cols = try selectColumns(s, outer: scope.parent, ctes: ctes)
            scope.sources.append(Source(name: alias?.folded ?? "subquery@\(p.offset)", columns: cols, view: nil))
        case .join(let l, _, let r, let constraint):
            try from(l, scope: scope, ctes: ctes)
            try from(r, scope: scope, ctes: ctes)
            switch constraint {
            case .on(let e): _ = try expr(e, scope: scope, ctes: ctes, allowAggregates: false)
            case .using(let names):
                for n in names where !scope.sources.contains(where: { $0.columns.contains { $0.name == n.folded } }) {
                    throw SQLError(rule: "schema", message: "no column \(n.text) to join USING", pos: n.pos)
                }
            case .none: break
            }
        case .parenthesized(let inner, _):
            try from(inner, scope: scope, ctes: ctes)
        }
    }

    // MARK: expressions

    /// A column of a FROM source carries its lineage (identifying, quasi, patient), not how the
    /// source computed it: an aggregate inside a CTE is a plain value to the select reading it.
    func resolve(table: Name?, name: Name, scope: Scope) throws(SQLError) -> ValueInfo {
        var v = try lookup(table: table, name: name, scope: scope)
        v.hasAggregate = false
        v.hasSubquery = false
        v.isConstant = false
        return v
    }

    func lookup(table: Name?, name: Name, scope: Scope) throws(SQLError) -> ValueInfo {
        let col = name.folded
        var s: Scope? = scope
        while let cur = s {
            if let table {
                if let src = cur.sources.first(where: { $0.name == table.folded }) {
                    guard let c = src.columns.first(where: { $0.name == col }) else {
                        throw SQLError(rule: "schema", message: "\(table.text) has no column \(name.text)", pos: name.pos)
                    }
                    return c.info
                }
            } else {
                let hits = cur.sources.compactMap { src in src.columns.first { $0.name == col } }
                if hits.count > 1 {
                    // SQLite reports an ambiguous column name; for USING/NATURAL joins the columns are equal.
                    var info = hits[0].info
                    for h in hits.dropFirst() { info.absorb(h.info) }
                    info.isPatient = hits.allSatisfy { $0.info.isPatient }
                    return info
                }
                if let h = hits.first { return h.info }
                if let a = cur.aliases[col] { return a.1 }
            }
            s = cur.parent
        }
        if table == nil, ["true", "false"].contains(col) { return .constant }
        if let table { throw SQLError(rule: "schema", message: "no table named \(table.text) in scope", pos: table.pos) }
        throw SQLError(rule: "schema", message: "no column named \(name.text)", pos: name.pos)
    }

    func expr(_ e: Expr, scope: Scope, ctes: [String: [SourceColumn]], allowAggregates: Bool) throws(SQLError) -> ValueInfo {
        func sub(_ x: Expr) throws(SQLError) -> ValueInfo { try expr(x, scope: scope, ctes: ctes, allowAggregates: allowAggregates) }
        switch e {
        case .literal:
            // Literals, including CURRENT_DATE & co. (pinned by the rewriter, R6), are constants.
            return .constant
        case .column(let schemaName, let table, let name):
            if let schemaName { throw SQLError(rule: "R1", message: "schema-qualified column \(schemaName.text).… is not allowed", pos: schemaName.pos) }
            return try resolve(table: table, name: name, scope: scope)
        case .parameter(let p, let pos):
            guard p.hasPrefix(":") else {
                throw SQLError(rule: "R5", message: "parameter \(p) is positional or uses @/$; parameters are named like :min_age", pos: pos)
            }
            let n = String(p.dropFirst())
            if n.hasPrefix("tally_") { throw SQLError(rule: "R5", message: "parameter names starting with tally_ are reserved", pos: pos) }
            if let declared = allowances.parameters, declared[n] == nil {
                throw SQLError(rule: "R5", message: "parameter :\(n) is not declared by the policy (declared: \(declared.keys.sorted().map { ":" + $0 }.joined(separator: ", ")))", pos: pos)
            }
            return .constant
        case .unary(_, let x, _):
            return try sub(x)
        case .binary(let op, let l, let r, let p):
            if op == .arrow || op == .arrow2 {
                throw SQLError(rule: "R4", message: "the \(op.rawValue) operator is not allowed; use json_extract(value, '$.path')", pos: p)
            }
            let li = try sub(l)
            let ri = try sub(r)
            var v = ValueInfo.combining([li, ri])
            // age / 10 (and coarser) generalises; comparisons yield booleans.
            if op == .div, li.quasi, case .literal(.integer(let n), _) = r, let k = Int(n), k >= 5 { v = v.clearingQuasi(); v.absorb(ri) }
            if [.eq, .eq2, .ne, .ne2, .lt, .le, .gt, .ge].contains(op) { v = v.clearingQuasi() }
            return v
        case .function(let name, let args, let filter, let over):
            return try function(name, args, filter, over, scope: scope, ctes: ctes, allowAggregates: allowAggregates)
        case .cast(let x, _, _): return try sub(x)
        case .collate(let x, _): return try sub(x)
        case .like(let x, _, let op, let pattern, let escape, let p):
            if op == .regexp || op == .match { throw SQLError(rule: "R4", message: "\(op.rawValue) is not available", pos: p) }
            var parts = [try sub(x), try sub(pattern)]
            if let escape { parts.append(try sub(escape)) }
            return ValueInfo.combining(parts).clearingQuasi()
        case .between(let x, _, let low, let high, _):
            return ValueInfo.combining([try sub(x), try sub(low), try sub(high)]).clearingQuasi()
        case .inList(let x, _, let items, let p):
            if items.count > 10_000 { throw SQLError(rule: "limit", message: "IN list has \(items.count) items; the limit is 10000", pos: p) }
            var parts = [try sub(x)]
            for i in items { parts.append(try sub(i)) }
            return ValueInfo.combining(parts).clearingQuasi()
        case .inSelect(let x, _, let s, _):
            var v = try sub(x)
            let cols = try selectColumns(s, outer: scope, ctes: ctes)
            for c in cols { v.absorb(c.info) }
            v.hasSubquery = true
            v.hasAggregate = false // the subquery's own aggregates are not this select's
            return v.clearingQuasi()
        case .inTable(let x, _, let schemaName, let name, let args, let p):
            guard schemaName == nil, name.folded == "valueset", let args, args.count == 1, case .literal(.string(let set), _) = args[0] else {
                throw SQLError(rule: "R4", message: "IN \(name.text) is not allowed; write IN (…), IN (SELECT …) or IN VALUESET('name')", pos: p)
            }
            guard valueSets.contains(set) else {
                throw SQLError(rule: "schema", message: "no value set named '\(set)'\(valueSets.isEmpty ? "" : "; known: " + valueSets.sorted().joined(separator: ", "))", pos: args[0].pos)
            }
            return try sub(x).clearingQuasi()
        case .isNull(let x, _, _): return try sub(x).clearingQuasi()
        case .isOp(let l, _, _, let r, _): return ValueInfo.combining([try sub(l), try sub(r)]).clearingQuasi()
        case .exists(_, let s, _):
            var v = ValueInfo.constant
            for c in try selectColumns(s, outer: scope, ctes: ctes) { v.absorb(c.info) }
            v.hasSubquery = true
            v.hasAggregate = false
            return v.clearingQuasi()
        case .subquery(let s, _):
            var v = ValueInfo.constant
            for c in try selectColumns(s, outer: scope, ctes: ctes) { v.absorb(c.info) }
            v.hasSubquery = true
            v.hasAggregate = false
            v.isConstant = false
            return v
        case .caseExpr(let base, let whens, let otherwise, _):
            // Identifiers anywhere in a CASE launder into its result; a quasi-identifier used only in
            // the conditions, with other results, is banded (CASE WHEN age < 18 THEN '0-17' …).
            var conditions = ValueInfo.constant
            if let base { conditions = try sub(base) }
            var results = ValueInfo.constant
            for w in whens {
                conditions.absorb(try sub(w.when))
                results.absorb(try sub(w.then))
            }
            if let o = otherwise { results.absorb(try sub(o)) }
            var v = results
            v.absorb(conditions.clearingQuasi())
            if results.quasi { v.quasi = true; v.quasiColumn = results.quasiColumn; v.quasiPos = results.quasiPos }
            return v
        case .row(let items, _):
            var parts: [ValueInfo] = []
            for i in items { parts.append(try sub(i)) }
            return ValueInfo.combining(parts)
        case .raise(_, _, let p):
            throw SQLError(rule: "R4", message: "RAISE is only for triggers", pos: p)
        }
    }

    func function(_ name: Name, _ args: FunctionArgs, _ filter: Expr?, _ over: Over?, scope: Scope,
                  ctes: [String: [SourceColumn]], allowAggregates: Bool) throws(SQLError) -> ValueInfo {
        let f = name.folded
        if let reason = Functions.refusedWithReason[f] { throw SQLError(rule: "R4", message: reason, pos: name.pos) }
        if f.hasPrefix("sqlite_") { throw SQLError(rule: "R4", message: "\(name.text)() exposes engine internals", pos: name.pos) }
        if over != nil { throw SQLError(rule: "R4", message: "window functions are not allowed (they compute per-row values)", pos: name.pos) }
        var list: [Expr] = []
        var star = false
        switch args {
        case .star: star = true
        case .list(_, let l, let order):
            list = l
            if !order.isEmpty { throw SQLError(rule: "R4", message: "ORDER BY inside a function call is not allowed", pos: name.pos) }
        }
        let isAggregate = Functions.aggregates.contains(f) && !((f == "min" || f == "max") && list.count > 1)
        guard isAggregate || Functions.scalars.contains(f) else {
            throw SQLError(rule: "R4", message: "function \(name.text)() is not on the allow-list", pos: name.pos,
                           hint: "allowed: " + (Functions.aggregates.union(Functions.scalars)).sorted().joined(separator: ", "))
        }
        if star && f != "count" { throw SQLError(rule: "syntax", message: "\(name.text)(*) is not a function call", pos: name.pos) }
        if filter != nil { throw SQLError(rule: "R2", message: "FILTER releases a sub-count that the row's patient threshold does not protect; group by the condition instead", pos: name.pos) }
        if isAggregate {
            guard allowAggregates else { throw SQLError(rule: "syntax", message: "aggregate \(name.text)() is not allowed here", pos: name.pos) }
            guard list.count == 1 || star else { throw SQLError(rule: "syntax", message: "\(name.text)() takes one argument", pos: name.pos) }
            if !star {
                if let bad = conditionalInside(list[0]) {
                    throw SQLError(rule: "R2", message: "a conditional inside \(name.text)() releases a sub-count that the row's patient threshold does not protect", pos: bad,
                                   hint: "group by the condition instead of counting it inside the aggregate")
                }
                var inner = try expr(list[0], scope: scope, ctes: ctes, allowAggregates: false)
                if inner.hasAggregate { throw SQLError(rule: "syntax", message: "aggregates cannot be nested", pos: name.pos) }
                var v = ValueInfo()
                v.hasAggregate = true
                v.isConstant = false
                v.hasSubquery = inner.hasSubquery
                if f == "count" { return v } // counting launders identifiers into a count
                inner.hasAggregate = true
                inner.isPatient = false
                inner.isConstant = false
                return inner
            }
            var v = ValueInfo()
            v.hasAggregate = true
            v.isConstant = false
            return v
        }
        // Scalar functions.
        if Functions.dateFunctions.contains(f) {
            for a in list {
                if case .literal(.string(let s), let p) = a, ["localtime", "utc", "subsec", "subsecond"].contains(s.lowercased()) {
                    throw SQLError(rule: "R6", message: "the '\(s)' modifier depends on the member's clock or time zone; evaluation time is pinned in UTC", pos: p)
                }
            }
            if f == "strftime" {
                guard case .literal(.string(let fmt), let p)? = list.first else {
                    throw SQLError(rule: "R4", message: "strftime() needs a literal format", pos: name.pos)
                }
                guard Functions.strftimeFormats.contains(fmt) else {
                    throw SQLError(rule: "R4", message: "strftime format '\(fmt)' is not allowed", pos: p,
                                   hint: "allowed formats: " + Functions.strftimeFormats.sorted().joined(separator: " "))
                }
            }
        }
        if f == "json_extract" {
            guard list.count == 2, case .literal(.string(let path), let pp) = list[1] else {
                throw SQLError(rule: "R4", message: "json_extract() takes a column and one literal path", pos: name.pos)
            }
            var base = try expr(list[0], scope: scope, ctes: ctes, allowAggregates: allowAggregates)
            if case .column(_, _, let c) = list[0], c.folded == "value" {
                base = ValueInfo()
                base.isConstant = false
                if schema.quasiJSONPaths.contains(path) {
                    base.quasi = true
                    base.quasiColumn = "value \(path)"
                    base.quasiPos = pp
                } else if !schema.generalisedJSONPaths.contains(path) {
                    base.identifying = true
                    base.identifyingColumn = "value \(path)"
                    base.identifyingPos = pp
                }
            }
            return base
        }
        var parts: [ValueInfo] = []
        for a in list { parts.append(try expr(a, scope: scope, ctes: ctes, allowAggregates: allowAggregates)) }
        return ValueInfo.combining(parts)
    }

    /// The position of a CASE, IIF, NULLIF or similar inside an aggregate argument, if any.
    func conditionalInside(_ e: Expr) -> SourcePos? {
        switch e {
        case .caseExpr(_, _, _, let p): return p
        case .function(let n, let args, _, _):
            if ["iif", "nullif"].contains(n.folded) { return n.pos }
            if case .list(_, let l, _) = args { for a in l { if let p = conditionalInside(a) { return p } } }
            return nil
        case .binary(_, let l, let r, _): return conditionalInside(l) ?? conditionalInside(r)
        case .unary(_, let x, _), .cast(let x, _, _), .collate(let x, _): return conditionalInside(x)
        case .subquery(_, let p): return p
        default: return nil
        }
    }

    // MARK: the released result

    func topLevel(_ s: SelectClause, scope: Scope, ctes: [String: [SourceColumn]], columnInfos: [ValueInfo]) throws(SQLError) -> Validator.TopLevel {
        var outputs: [(expr: Expr, alias: Name?, info: ValueInfo, aggregate: String?)] = []
        var groupInfos: [(Expr, ValueInfo)] = []
        // GROUP BY 2 means the second output column.
        let exprColumns: [(Expr, Name?)] = s.columns.compactMap { if case .expr(let e, let a) = $0 { return (e, a) }; return nil }
        let groupBy = s.groupBy.map { g -> Expr in
            if case .literal(.integer(let n), _) = g, let k = Int(n), k >= 1, k <= exprColumns.count { return exprColumns[k - 1].0 }
            return g
        }
        for g in groupBy {
            let info = try expr(g, scope: scope, ctes: ctes, allowAggregates: false)
            if info.hasSubquery { throw SQLError(rule: "R2", message: "a subquery as a GROUP BY key is not allowed", pos: g.pos) }
            try releasable(info, at: g.pos, what: "GROUP BY key")
            groupInfos.append((g, info))
        }
        let anyAggregate = columnInfos.contains(where: \.hasAggregate)
        for ((e, alias), info) in zip(exprColumns, columnInfos) {
            if info.hasSubquery && !info.hasAggregate {
                throw SQLError(rule: "R2", message: "a subquery as an output column releases a value the row's patient threshold does not cover", pos: e.pos)
            }
            if info.hasAggregate {
                guard case .function(let fname, _, _, _) = e, Functions.aggregates.contains(fname.folded) else {
                    throw SQLError(rule: "R2", message: "an output column must be a single aggregate so sites can be merged", pos: e.pos,
                                   hint: "output the aggregates themselves and compute \(Printer.sql(e)) from the merged result")
                }
                let f = fname.folded
                if (f == "min" || f == "max") && !allowances.minMax {
                    throw SQLError(rule: "R2", message: "\(fname.text)() releases a value of one row; this policy does not allow MIN or MAX", pos: fname.pos)
                }
                // Aggregating a quasi-identifier (the average age of ≥ k patients) is fine; releasing one
                // row's value through MIN or MAX is not.
                if f == "min" || f == "max" { try releasable(info, at: e.pos, what: "\(fname.text)() argument") }
                else if f != "count" { try releasable(info.clearingQuasi(), at: e.pos, what: "\(fname.text)() argument") }
                if info.hasSubquery { throw SQLError(rule: "R2", message: "a subquery inside an aggregate is not allowed", pos: e.pos) }
                outputs.append((e, alias, info, f))
                continue
            }
            if info.isConstant { outputs.append((e, alias, info, nil)); continue }
            let isKey = groupInfos.contains { g, _ in
                if g == e { return true }
                if let alias, case .column(nil, nil, let n) = g, n.folded == alias.folded { return true }
                if case .column(nil, nil, let n) = e, case .column(nil, nil, let gn) = g, n.folded == gn.folded { return true }
                return false
            }
            guard isKey else {
                if groupBy.isEmpty && !anyAggregate {
                    throw rowLevel(s, at: e.pos, what: "this query returns one row per record")
                }
                throw SQLError(rule: "R2", message: "output column \(Printer.sql(e)) is neither a GROUP BY key nor an aggregate", pos: e.pos,
                               hint: "add it to GROUP BY, or aggregate it")
            }
            try releasable(info, at: e.pos, what: "output column")
            outputs.append((e, alias, info, nil))
        }
        if !anyAggregate && groupBy.isEmpty {
            throw rowLevel(s, at: s.pos, what: "this query returns one row per record")
        }
        guard s.from != nil, let pid = patientRef(scope) else {
            throw SQLError(rule: "R2", message: "cannot count the patients behind each row: no source in FROM exposes patient_id", pos: s.pos,
                           hint: "select patient_id in the CTE or subquery the query reads from")
        }
        return TopLevel(clause: s, outputs: outputs, patientRef: pid)
    }

    func releasable(_ info: ValueInfo, at pos: SourcePos, what: String) throws(SQLError) {
        if info.identifying {
            throw SQLError(rule: "R3", message: "\(what) derives from the identifier \(info.identifyingColumn ?? "column"); identifiers may appear only in joins, filters and COUNT(DISTINCT …)", pos: pos)
        }
        if info.quasi {
            throw SQLError(rule: "R3", message: "\(what) derives from the quasi-identifier \(info.quasiColumn ?? "column") in exact form", pos: pos,
                           hint: "generalise it: birth_year, zip3, or an age band (CASE WHEN age < 45 THEN '<45' … END, or age / 10 * 10)")
        }
    }

    /// `alias.column` naming the patient pseudonym of the first FROM source that has one.
    func patientRef(_ scope: Scope) -> Expr? {
        for src in scope.sources {
            if let c = src.columns.first(where: { $0.info.isPatient }) {
                return .column(schema: nil, table: Name(src.name), name: Name(c.name))
            }
        }
        return nil
    }
}
