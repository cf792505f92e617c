/// A named list of codes across code systems (`Queries/valuesets/NAME.json`).
public struct ValueSet: Sendable, Equatable {
    public struct Code: Sendable, Equatable, Hashable {
        public var system: String
        public var code: String
        public var display: String?
        public init(system: String, code: String, display: String? = nil) {
            self.system = system
            self.code = code
            self.display = display
        }
    }

    public var name: String
    public var description: String
    public var source: String
    public var codes: [Code]

    public init(name: String, description: String, source: String, codes: [Code]) {
        self.name = name
        self.description = description
        self.source = source
        self.codes = codes
    }
}

/// Short names for the code systems, as the views store them.
public enum CodeSystem {
    public static let snomed = "http://snomed.info/sct"
    public static let icd10cm = "http://hl7.org/fhir/sid/icd-10-cm"
    public static let rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    public static let atc = "http://www.whocc.no/atc"
    public static let cvx = "http://hl7.org/fhir/sid/cvx"
}
