/// What a column may do in a de-identified query.
public enum ColumnKind: String, Sendable {
    /// Pseudonymous ids (patient_id, encounter_id, claim_id) and keys that embed them: joins,
    /// filters and COUNT(DISTINCT …) only.
    case identifier
    /// Exact values that single people out when combined (exact age): groupable only generalised.
    case quasiIdentifier = "quasi-identifier"
    /// Already coarse (birth_year, zip3, sex, region, site, class): free to group on.
    case generalised
    /// Numbers to aggregate (amount).
    case measure
    /// Clinical codes and code systems.
    case code
    /// Dates of service, onset and prescription.
    case date
    /// A JSON document (world_state.value): readable through json_extract with an allowed path.
    case json
    /// Free text: never an output.
    case freeText = "free-text"

    var isIdentifying: Bool { self == .identifier || self == .freeText || self == .json }
}

public struct ViewSchema: Sendable {
    public var name: String
    public var columns: [(name: String, kind: ColumnKind)]
    /// The column holding the consortium patient pseudonym.
    public var patientColumn: String?
    /// False for views that queries may not name directly (consents: read through the consent filter).
    public var directlyReadable: Bool

    public init(name: String, columns: [(String, ColumnKind)], patientColumn: String? = "patient_id", directlyReadable: Bool = true) {
        self.name = name
        self.columns = columns.map { (name: $0.0, kind: $0.1) }
        self.patientColumn = patientColumn
        self.directlyReadable = directlyReadable
    }

    public func kind(of column: String) -> ColumnKind? {
        let c = column.lowercased()
        return columns.first { $0.name == c }?.kind
    }
}

/// The views a query can read, their columns' kinds, and the JSON paths of world_state that may be
/// output. This is the deny-by-default description the validator (and the member's authorizer) use.
public struct Schema: Sendable {
    public var views: [String: ViewSchema]
    /// JSON paths in world_state.value that hold generalised values and may be grouped on.
    public var generalisedJSONPaths: Set<String>
    /// JSON paths that hold quasi-identifiers (groupable only banded).
    public var quasiJSONPaths: Set<String>

    public func view(_ name: String) -> ViewSchema? { views[name.lowercased()] }

    public static let tally = Schema(
        views: Dictionary(uniqueKeysWithValues: [
            ViewSchema(name: "patients", columns: [
                ("patient_id", .identifier), ("birth_year", .generalised), ("age", .quasiIdentifier), ("sex", .generalised),
                ("region", .generalised), ("zip3", .generalised), ("deceased", .generalised),
            ]),
            ViewSchema(name: "encounters", columns: [
                ("encounter_id", .identifier), ("patient_id", .identifier), ("site", .generalised), ("service_date", .date),
                ("class", .generalised), ("region", .generalised),
            ]),
            ViewSchema(name: "conditions", columns: [
                ("patient_id", .identifier), ("encounter_id", .identifier), ("system", .code), ("code", .code), ("onset_date", .date),
            ]),
            ViewSchema(name: "medications", columns: [
                ("patient_id", .identifier), ("system", .code), ("code", .code), ("drug_class", .generalised),
                ("start_date", .date), ("end_date", .date),
            ]),
            ViewSchema(name: "immunizations", columns: [
                ("patient_id", .identifier), ("system", .code), ("code", .code), ("date", .date), ("site", .generalised),
            ]),
            ViewSchema(name: "claims", columns: [
                ("claim_id", .identifier), ("patient_id", .identifier), ("provider", .generalised), ("procedure_code", .code),
                ("service_date", .date), ("amount", .measure),
            ]),
            ViewSchema(name: "consents", columns: [
                ("patient_id", .identifier), ("grantee", .generalised), ("scope", .generalised), ("status", .generalised),
                ("granted_at", .date), ("expires", .date),
            ], directlyReadable: false),
            ViewSchema(name: "world_state", columns: [("key", .identifier), ("value", .json), ("patient_id", .identifier)]),
        ].map { ($0.name, $0) }),
        generalisedJSONPaths: ["$.region", "$.service_date", "$.sex", "$.gender", "$.birth_year", "$.zip3", "$.class", "$.site",
                               "$.system", "$.code", "$.drug_class", "$.record_type", "$.type", "$.onset_date", "$.provider"],
        quasiJSONPaths: ["$.age"]
    )
}

/// What a policy allows a query to do beyond the dialect's defaults.
public struct QueryAllowances: Sendable {
    /// MIN and MAX release an actual value of some row; only where the policy allows them.
    public var minMax: Bool
    /// Declared parameters (name without the colon → type), or nil to accept any named parameter.
    public var parameters: [String: String]?

    public init(minMax: Bool = false, parameters: [String: String]? = nil) {
        self.minMax = minMax
        self.parameters = parameters
    }
}
