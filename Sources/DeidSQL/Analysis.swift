/// What the validator knows about an expression's value.
struct ValueInfo: Sendable {
    /// Derived from an identifier, free text or raw JSON (other than through COUNT).
    var identifying = false
    var identifyingColumn: String?
    var identifyingPos: SourcePos?
    /// Derived from a quasi-identifier that has not been generalised.
    var quasi = false
    var quasiColumn: String?
    var quasiPos: SourcePos?
    /// Exactly the patient pseudonym (lineage for counting patients).
    var isPatient = false
    var hasAggregate = false
    var hasSubquery = false
    /// No column references at all.
    var isConstant = true

    static let constant = ValueInfo()

    mutating func absorb(_ o: ValueInfo) {
        if o.identifying && !identifying {
            identifying = true
            identifyingColumn = o.identifyingColumn
            identifyingPos = o.identifyingPos
        }
        if o.quasi && !quasi {
            quasi = true
            quasiColumn = o.quasiColumn
            quasiPos = o.quasiPos
        }
        hasAggregate = hasAggregate || o.hasAggregate
        hasSubquery = hasSubquery || o.hasSubquery
        isConstant = isConstant && o.isConstant
        isPatient = false
    }

    static func combining(_ parts: [ValueInfo]) -> ValueInfo {
        var v = ValueInfo.constant
        for p in parts { v.absorb(p) }
        return v
    }

    func clearingQuasi() -> ValueInfo {
        var v = self
        v.quasi = false
        v.quasiColumn = nil
        v.quasiPos = nil
        return v
    }
}

struct SourceColumn {
    var name: String
    var info: ValueInfo
}

struct Source {
    /// The name the query uses for it (alias, or the view / CTE name), folded.
    var name: String
    var columns: [SourceColumn]
    var view: ViewSchema?
}

final class Scope {
    var sources: [Source] = []
    let parent: Scope?
    /// Output aliases usable in GROUP BY / HAVING / ORDER BY of this select.
    var aliases: [String: (Expr, ValueInfo)] = [:]
    init(parent: Scope?) { self.parent = parent }
}

/// Functions a query may call. Everything else is refused (rule R4).
enum Functions {
    static let aggregates: Set<String> = ["count", "sum", "avg", "min", "max", "total"]
    static let scalars: Set<String> = [
        "abs", "round", "coalesce", "ifnull", "nullif", "iif", "lower", "upper", "length", "substr", "substring", "trim",
        "ltrim", "rtrim", "replace", "instr", "date", "time", "datetime", "julianday", "strftime", "unixepoch",
        "json_extract", "min", "max", "typeof", "sign",
    ]
    static let dateFunctions: Set<String> = ["date", "time", "datetime", "julianday", "strftime", "unixepoch"]
    /// `strftime` formats that generalise a date; sub-day formats and free formats are refused.
    static let strftimeFormats: Set<String> = ["%Y", "%m", "%d", "%Y-%m", "%Y-%m-%d", "%W", "%Y-%W", "%w", "%j", "%Y-%j"]
    /// Specific reasons for functions people try.
    static let refusedWithReason: [String: String] = [
        "random": "random() makes results differ between sites and runs",
        "randomblob": "randomblob() is not allowed (resource exhaustion and non-determinism)",
        "zeroblob": "zeroblob() is not allowed (resource exhaustion)",
        "load_extension": "load_extension() is never allowed",
        "printf": "printf() is not allowed (unbounded widths)", "format": "format() is not allowed (unbounded widths)",
        "group_concat": "group_concat() releases row values inside an aggregate",
        "string_agg": "string_agg() releases row values inside an aggregate",
        "json_group_array": "json_group_array() releases row values inside an aggregate",
        "json_group_object": "json_group_object() releases row values inside an aggregate",
    ]
}
