import Foundation

/// Parse → validate → rewrite, the path every query takes before any site runs it.
public struct QueryChecker {
    public var schema: Schema
    public var allowances: QueryAllowances
    public var valueSets: [String: ValueSet]
    public var limits: ParserLimits

    public init(schema: Schema = .tally, allowances: QueryAllowances = QueryAllowances(), valueSets: [String: ValueSet] = [:], limits: ParserLimits = ParserLimits()) {
        self.schema = schema
        self.allowances = allowances
        self.valueSets = valueSets
        self.limits = limits
    }

    public struct Result: Sendable {
        public var tree: Select
        public var normalised: String
        public var rewrite: Rewrite
    }

    public func check(_ sql: String) throws(SQLError) -> Result {
        let tree = try Parser.parse(sql, limits: limits)
        let top = try Validator(schema: schema, allowances: allowances, valueSets: Set(valueSets.keys)).validate(tree)
        let rw = try Rewriter(valueSets: valueSets).rewrite(tree, validated: top)
        return Result(tree: tree, normalised: Printer.sql(tree), rewrite: rw)
    }

    /// The text `tally sql check` prints for an accepted query.
    public static func report(_ r: Result) -> String {
        var s = "ok: accepted\n\n-- normalised\n" + r.normalised + "\n\n-- rewritten (what each member runs)\n" + r.rewrite.sql + "\n"
        if !r.rewrite.parameters.isEmpty { s += "-- parameters: " + r.rewrite.parameters.joined(separator: ", ") + "\n" }
        s += "\n-- merge plan\n" + r.rewrite.plan.description + "\n"
        return s
    }

    /// Loads every `*.json` value set in a directory.
    public static func loadValueSets(directory: String) throws -> [String: ValueSet] {
        var out: [String: ValueSet] = [:]
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted()
        for f in files {
            let path = (directory as NSString).appendingPathComponent(f)
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let o = try JSONSerialization.jsonObject(with: data) as? [String: Any], let name = o["name"] as? String,
                  let codes = o["codes"] as? [[String: Any]] else {
                throw SQLError(rule: "valueset", message: "\(f) is not a value set (needs name and codes)", pos: SourcePos(line: 1, column: 1, offset: 0))
            }
            guard name + ".json" == f else {
                throw SQLError(rule: "valueset", message: "\(f) names itself \(name); the file must be \(name).json", pos: SourcePos(line: 1, column: 1, offset: 0))
            }
            let parsed = codes.compactMap { c -> ValueSet.Code? in
                guard let s = c["system"] as? String, let code = c["code"] as? String else { return nil }
                return ValueSet.Code(system: s, code: code, display: c["display"] as? String)
            }
            guard parsed.count == codes.count, !parsed.isEmpty else {
                throw SQLError(rule: "valueset", message: "\(f): every code needs a system and a code", pos: SourcePos(line: 1, column: 1, offset: 0))
            }
            out[name] = ValueSet(name: name, description: o["description"] as? String ?? "", source: o["source"] as? String ?? "", codes: parsed)
        }
        return out
    }
}
