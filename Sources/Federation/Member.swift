import DeidSQL
import Foundation
import Ledger
import SQLiteStore

/// A query as a member receives it: which policy, which SQL, and the evaluation point the
/// coordinator pinned on the ledger (time and height), so every site evaluates the same window.
public struct QueryRequest: Sendable {
    public var queryID: String
    public var policyID: String
    public var requester: String
    public var sql: String
    public var parameters: [String: SQLValue]
    public var pinnedTime: Int64
    public var pinnedHeight: Int64

    public init(queryID: String, policyID: String, requester: String, sql: String, parameters: [String: SQLValue] = [:], pinnedTime: Int64, pinnedHeight: Int64) {
        self.queryID = queryID
        self.policyID = policyID
        self.requester = requester
        self.sql = sql
        self.parameters = parameters
        self.pinnedTime = pinnedTime
        self.pinnedHeight = pinnedHeight
    }
}

/// Why a member refused to answer.
public enum Refusal: Error, Equatable, CustomStringConvertible, Sendable {
    case unknownPolicy(String)
    case notApproved(policy: String, org: String, status: String)
    case requesterNotAllowed(String)
    case templateMismatch
    case invalidQuery(String)
    case parameter(String)
    case sandbox(String)
    case notCaughtUp(views: Int64, needed: Int64)

    public var code: String {
        switch self {
        case .unknownPolicy: return "unknown_policy"
        case .notApproved: return "policy_not_approved"
        case .requesterNotAllowed: return "requester_not_allowed"
        case .templateMismatch: return "template_mismatch"
        case .invalidQuery: return "invalid_query"
        case .parameter: return "parameter"
        case .sandbox: return "sandbox"
        case .notCaughtUp: return "not_caught_up"
        }
    }

    public var description: String {
        switch self {
        case .unknownPolicy(let p): return "no policy \(p) on this member's ledger"
        case .notApproved(let p, let o, let s): return "\(o) has not approved policy \(p) (policy status: \(s))"
        case .requesterNotAllowed(let r): return "\(r) is not a requester allowed by the policy"
        case .templateMismatch: return "the query is not one of the policy's pinned templates and the policy allows no ad-hoc queries"
        case .invalidQuery(let m): return m
        case .parameter(let m): return "parameter: \(m)"
        case .sandbox(let m): return m
        case .notCaughtUp(let v, let n): return "views are at height \(v); the query is pinned at \(n)"
        }
    }
}

/// One cell of a released result.
public enum Cell: Equatable, Sendable {
    case value(SQLValue)
    case suppressed

    public var json: JSON {
        switch self {
        case .suppressed: return ["suppressed": true]
        case .value(.null): return .null
        case .value(.integer(let i)): return .int(i)
        case .value(.text(let s)): return .string(s)
        case .value(.real(let d)): return ["real": .string(String(d))]
        case .value(.blob(let b)): return ["blob": .string(b.base64)]
        }
    }
}

/// What a member releases: aggregate rows (suppressed rows withheld entirely, suppressed cells marked),
/// signed by the member organisation and bound to the query, policy, pinned time and ledger height.
public struct SiteResult: Sendable {
    public var site: String
    public var queryID: String
    public var policyID: String
    public var pinnedTime: Int64
    public var height: Int64
    public var k: Int64
    /// Site columns, as in the merge plan (the last is the distinct-patient count).
    public var columns: [String]
    public var rows: [[Cell]]
    public var suppressedRows: Int
    public var suppressedCells: Int
    public var signature: [UInt8]
    /// Where the site's time went, in milliseconds (`wait_views`, `evaluate`). Informational: not signed.
    public var timings: [String: Double] = [:]

    public var signedJSON: JSON {
        ["site": .string(site), "query": .string(queryID), "policy": .string(policyID), "pinned_time": .int(pinnedTime),
         "height": .int(height), "k": .int(k), "columns": .array(columns.map { .string($0) }),
         "rows": .array(rows.map { .array($0.map(\.json)) }), "suppressed_rows": .int(Int64(suppressedRows)),
         "suppressed_cells": .int(Int64(suppressedCells))]
    }

    public func isValid(signedBy key: PublicSigningKey) -> Bool {
        key.isValid(aggregateSignature: signature, for: signedJSON.canonicalBytes)
    }
}

/// Evaluates federated queries over this organisation's decrypted views.
public final class MemberService {
    public let org: String
    public let ledger: Ledger
    public let views: ViewStore
    let keys: OrganisationKeys
    public var valueSets: [String: ValueSet] { didSet { rewriteLock.withLock { rewrites = [:] } } }
    /// Recent rewrites by (SQL, allowances, consent filter): a policy's templates are asked again and
    /// again (daily surveillance pulls, dashboards), and parsing, validating and rewriting them is a
    /// third of a trivial query's evaluation. Bounded; emptied when full or when the value sets change.
    private var rewrites: [String: Rewrite] = [:]
    private let rewriteLock = NSLock()
    static let maxCachedRewrites = 128
    public var sandboxLimits = SandboxConnection.Limits() { didSet { sandboxLock.withLock { cachedSandbox = nil } } }
    /// One sandbox connection, reused across queries (its page cache stays warm); evaluations take
    /// turns on it. It is dropped after any failure and whenever the limits change.
    private var cachedSandbox: SandboxConnection?
    private let sandboxLock = NSLock()

    /// SQLite's heap is capped for the whole process once a member serves queries: a query that
    /// needs more fails with a clear error instead of exhausting the node's memory.
    public static let heapCapBytes: Int64 = 1 << 30
    private static let capHeapOnce: Void = { SQLiteHeap.limit = heapCapBytes }()

    public init(keys: OrganisationKeys, ledger: Ledger, views: ViewStore, valueSets: [String: ValueSet]) {
        _ = MemberService.capHeapOnce
        self.org = keys.org
        self.keys = keys
        self.ledger = ledger
        self.views = views
        self.valueSets = valueSets
    }

    /// Everything the member checks before it runs anything, from its own ledger copy.
    public struct Admission {
        public var policy: JSON
        public var document: JSON
        public var k: Int64
        public var allowances: QueryAllowances
        public var consent: (grantee: String, scope: String)?
    }

    /// `requireApproval: false` is for previews only: a data steward sees what the node would release
    /// under a policy before approving it. Nothing previewed is signed or leaves the node.
    public func admit(_ r: QueryRequest, requireApproval: Bool = true) throws(Refusal) -> Admission {
        let stored: JSON?
        do { stored = try ledger.value(StateKey.policy(r.policyID), asOf: r.pinnedHeight) } catch { throw .unknownPolicy(r.policyID) }
        guard let policy = stored else { throw .unknownPolicy(r.policyID) }
        guard !requireApproval || PolicyStatus.approved(policy, by: org, at: r.pinnedTime) else {
            throw .notApproved(policy: r.policyID, org: org, status: PolicyStatus.derive(policy, at: r.pinnedTime).rawValue)
        }
        let doc = policy["document"] ?? [:]
        if let requesters = doc["requesters"]?.arrayValue, !requesters.contains(.string(r.requester)) {
            throw .requesterNotAllowed(r.requester)
        }
        // Templates are pinned by the hash of their text; ad-hoc queries need the policy's allowance.
        if doc["ad_hoc"]?.boolValue != true {
            let hash = Hash32.sha256(Array(r.sql.utf8)).hex
            let pinned = (doc["templates"]?.arrayValue ?? []).compactMap { $0["sha256"]?.stringValue }
            guard pinned.contains(hash) else { throw .templateMismatch }
        }
        let floor = ledger.params.kFloor
        let k = max(doc["k"]?.intValue ?? floor, floor)
        var allowances = QueryAllowances(minMax: doc["allow_min_max"]?.boolValue ?? false)
        if let params = doc["parameters"]?.objectValue {
            allowances.parameters = params.mapValues { $0.stringValue ?? "text" }
        } else {
            allowances.parameters = [:]
        }
        var consent: (String, String)?
        if let c = doc["consent"], let scope = c["scope"]?.stringValue {
            consent = (c["grantee"]?.stringValue ?? r.requester, scope)
        }
        return Admission(policy: policy, document: doc, k: k, allowances: allowances, consent: consent)
    }

    /// The rewritten query this member runs, with every view replaced by its base table (age computed
    /// at the pinned time) and, where the policy requires consent, restricted to consented patients.
    public func plan(_ r: QueryRequest, _ a: Admission) throws(Refusal) -> (sql: String, plan: MergePlan, bindings: [String: SQLValue]) {
        let (rw, bindings) = try rewrite(r, a)
        return (rw.sql, rw.plan, bindings)
    }

    /// The consent restriction for `r` under admission `a` (empty when the policy needs no consent).
    func consentFilter(_ r: QueryRequest, _ a: Admission) -> String {
        guard let c = a.consent else { return "" }
        let lit = Printer.stringLiteral
        return " WHERE patient_id IN (SELECT patient_id FROM v_consents WHERE grantee = \(lit(c.grantee)) AND (scope = \(lit(c.scope)) OR scope = 'all')"
            + " AND granted_height <= \(r.pinnedHeight) AND (revoked_height IS NULL OR revoked_height > \(r.pinnedHeight)) AND expires > \(r.pinnedTime))"
    }

    func rewrite(_ r: QueryRequest, _ a: Admission) throws(Refusal) -> (Rewrite, [String: SQLValue]) {
        let filter = consentFilter(r, a)
        let declared = a.allowances.parameters.map { $0.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",") } ?? "*"
        let key = "\(a.allowances.minMax)\u{1}\(declared)\u{1}\(filter)\u{1}\(r.sql)"
        let rw: Rewrite
        if let cached = rewriteLock.withLock({ rewrites[key] }) {
            rw = cached
        } else {
            do {
                rw = try MemberService.rewrittenSQL(r.sql, valueSets: valueSets, allowances: a.allowances, viewFilter: filter)
            } catch { throw .invalidQuery(error.description) }
            rewriteLock.withLock {
                if rewrites.count >= MemberService.maxCachedRewrites { rewrites = [:] }
                rewrites[key] = rw
            }
        }
        var bindings: [String: SQLValue] = [":tally_now": .text(MemberService.sqlTime(r.pinnedTime))]
        for p in rw.parameters where p != Rewriter.nowParameter {
            guard let v = r.parameters[String(p.dropFirst())] else { throw .parameter("no value given for \(p)") }
            bindings[p] = v
        }
        return (rw, bindings)
    }

    /// What each view name means on this member: its base table (age computed at the pinned time,
    /// `:tally_now`), with `filter` (the consent restriction, or empty) applied.
    public static func viewSources(filter: String = "") throws(SQLError) -> [String: Select] {
        // Without a consent filter the definitions never change: parsed once per process.
        if filter.isEmpty, let cached = unfilteredViewSources { return cached }
        return try parseViewSources(filter: filter)
    }

    private static let unfilteredViewSources: [String: Select]? = try? parseViewSources(filter: "")

    private static func parseViewSources(filter: String) throws(SQLError) -> [String: Select] {
        let sources: [String: String] = [
            "patients": "SELECT patient_id, birth_year, CAST(strftime('%Y', :tally_now) AS INTEGER) - birth_year - (strftime('%m-%d', :tally_now) < substr(birth_date, 6, 5)) AS age, sex, region, zip3, deceased FROM v_patients",
            "encounters": "SELECT encounter_id, patient_id, site, service_date, class, region FROM v_encounters",
            "conditions": "SELECT patient_id, encounter_id, system, code, onset_date FROM v_conditions",
            "medications": "SELECT patient_id, system, code, drug_class, start_date, end_date FROM v_medications",
            "immunizations": "SELECT patient_id, system, code, date, site FROM v_immunizations",
            "claims": "SELECT claim_id, patient_id, provider, procedure_code, service_date, amount FROM v_claims",
            // Derived from the typed views (see `ViewStore.worldStateSQL`).
            "world_state": "SELECT key, value, patient_id FROM (\(ViewStore.worldStateSQL)) AS world_state_rows",
        ]
        var out: [String: Select] = [:]
        for (name, sql) in sources { out[name] = try Parser.parse(sql + filter) }
        return out
    }


    /// Parses, validates and rewrites `sql` as a member runs it: each view replaced by its base table,
    /// restricted by `viewFilter` (the consent filter, or empty). `plan` adds the policy checks.
    public static func rewrittenSQL(_ sql: String, valueSets: [String: ValueSet], allowances: QueryAllowances = QueryAllowances(),
                                    viewFilter: String = "") throws(SQLError) -> Rewrite {
        let tree = try Parser.parse(sql)
        let top = try Validator(allowances: allowances, valueSets: Set(valueSets.keys)).validate(tree)
        let subs = try viewSources(filter: viewFilter)
        return try Rewriter(valueSets: valueSets) { name in subs[name].map { .subquery($0, alias: Name(name), .none) } }.rewrite(tree, validated: top)
    }

    /// `YYYY-MM-DD HH:MM:SS` in UTC, the form SQLite's date functions read.
    public static func sqlTime(_ ms: Int64) -> String {
        var t = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    public static let sandboxFunctions: Set<String> = [
        "count", "sum", "avg", "total", "min", "max", "abs", "round", "coalesce", "ifnull", "nullif", "iif", "lower", "upper",
        "length", "substr", "substring", "trim", "ltrim", "rtrim", "replace", "instr", "date", "time", "datetime", "julianday",
        "strftime", "unixepoch", "json_extract", "typeof", "sign", "like", "glob",
        // Not callable by queries (the validator's allow-list lacks them): the rewriter's patient count,
        // and what the derived world_state view builds its JSON with.
        "tally_patients", "json_object", "group_concat",
    ]

    public static let sandboxTables: [String: Set<String>] = [
        "v_patients": [], "v_encounters": [], "v_conditions": [], "v_medications": [], "v_immunizations": [], "v_claims": [],
        "v_consents": [],
    ]

    /// Runs a query and applies disclosure control. Unsigned results are what `preview` shows.
    public func evaluate(_ r: QueryRequest, sign: Bool = true) throws(Refusal) -> (result: SiteResult, plan: MergePlan) {
        guard views.height >= r.pinnedHeight else { throw .notCaughtUp(views: views.height, needed: r.pinnedHeight) }
        return try evaluate(r, admitted: try admit(r), sign: sign)
    }

    /// What this member would release for `r` if it approved the policy: evaluated exactly as an
    /// answer would be, unsigned. For the steward's approval page and `tally query preview`.
    public func preview(_ r: QueryRequest) throws(Refusal) -> (result: SiteResult, plan: MergePlan) {
        guard views.height >= r.pinnedHeight else { throw .notCaughtUp(views: views.height, needed: r.pinnedHeight) }
        return try evaluate(r, admitted: try admit(r, requireApproval: false), sign: false)
    }

    /// Runs rewritten SQL on a fresh read-only sandbox connection over the views.
    func runSandboxed(_ sql: String, bindings: [String: SQLValue]) throws(Refusal) -> (columns: [String], rows: [[SQLValue]]) {
        sandboxLock.lock()
        defer { sandboxLock.unlock() }
        let sandbox: SandboxConnection
        if let s = cachedSandbox {
            sandbox = s
        } else {
            do {
                sandbox = try SandboxConnection(path: views.path, allowance: .init(tables: MemberService.sandboxTables, functions: MemberService.sandboxFunctions), limits: sandboxLimits)
            } catch { throw .sandbox("cannot open the views read-only: \(error)") }
            cachedSandbox = sandbox
        }
        do { return try sandbox.query(sql, bindings: bindings) } catch {
            cachedSandbox = nil
            throw .sandbox(error.description)
        }
    }

    /// Evaluates a request already admitted as `a`.
    func evaluate(_ r: QueryRequest, admitted a: Admission, sign: Bool = true) throws(Refusal) -> (result: SiteResult, plan: MergePlan) {
        guard views.height >= r.pinnedHeight else { throw .notCaughtUp(views: views.height, needed: r.pinnedHeight) }
        let (sql, plan, bindings) = try self.plan(r, a)
        let out = try runSandboxed(sql, bindings: bindings)
        let disclosed = Disclosure.apply(rows: out.rows, plan: plan, k: a.k)
        var result = SiteResult(site: org, queryID: r.queryID, policyID: r.policyID, pinnedTime: r.pinnedTime, height: r.pinnedHeight, k: a.k,
                                columns: plan.siteColumns.map(\.name), rows: disclosed.rows, suppressedRows: disclosed.suppressedRows,
                                suppressedCells: disclosed.suppressedCells, signature: [])
        if sign { result.signature = keys.signing.signAggregate(result.signedJSON.canonicalBytes) }
        return (result, plan)
    }
}

/// Small-cell suppression. A row backed by fewer than k distinct patients is withheld; a count cell
/// between 1 and k−1 is withheld; and where two released counts in one row differ by 1…k−1 (a total
/// and a part, whose difference is a cohort of fewer than k), the smaller is withheld too.
public enum Disclosure {
    public static func apply(rows: [[SQLValue]], plan: MergePlan, k: Int64) -> (rows: [[Cell]], suppressedRows: Int, suppressedCells: Int) {
        var out: [[Cell]] = []
        var suppressedRows = 0
        var suppressedCells = 0
        let countColumns = plan.siteColumns.indices.filter { [.count, .sumOfDistinct].contains(plan.siteColumns[$0].combine) }
        for row in rows {
            let patients = row[plan.patientsColumn].intValue ?? 0
            if patients < k {
                suppressedRows += 1
                continue
            }
            var cells = row.map { Cell.value($0) }
            for c in countColumns {
                if let v = row[c].intValue, v > 0, v < k {
                    cells[c] = .suppressed
                    suppressedCells += 1
                }
            }
            // Complementary suppression inside the row.
            var changed = true
            while changed {
                changed = false
                let released = countColumns.compactMap { c -> (Int, Int64)? in
                    if case .value(.integer(let v)) = cells[c] { return (c, v) }
                    return nil
                }
                outer: for (i, a) in released.enumerated() {
                    for b in released[(i + 1)...] {
                        let d = abs(a.1 - b.1)
                        if d > 0 && d < k {
                            let smaller = a.1 < b.1 ? a.0 : b.0
                            cells[smaller] = .suppressed
                            suppressedCells += 1
                            changed = true
                            break outer
                        }
                    }
                }
            }
            out.append(cells)
        }
        return (out, suppressedRows, suppressedCells)
    }
}
