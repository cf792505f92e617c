import DeidSQL
import Foundation
import Ledger
import SQLiteStore

/// What a coordinator sends to each custodian: the query, bound to its submission on the ledger, signed
/// by the requesting organisation. A member answers only a request whose signature verifies against
/// the requester's member key and whose submission it finds on its own copy of the ledger.
public struct FederatedRequest: Sendable, Equatable {
    public var queryID: String
    public var policyID: String
    public var requester: String
    public var sql: String
    /// Parameter values as text (`:name` → value), bound as text or integer per the policy's declaration.
    public var parameters: [String: String]
    public var pinnedTime: Int64
    public var pinnedHeight: Int64
    /// Position of the `audit.query` transaction in its block.
    public var submissionIndex: Int
    public var signature: [UInt8] = []

    public init(queryID: String, policyID: String, requester: String, sql: String, parameters: [String: String], pinnedTime: Int64,
                pinnedHeight: Int64, submissionIndex: Int) {
        self.queryID = queryID
        self.policyID = policyID
        self.requester = requester
        self.sql = sql
        self.parameters = parameters
        self.pinnedTime = pinnedTime
        self.pinnedHeight = pinnedHeight
        self.submissionIndex = submissionIndex
    }

    public var signedJSON: JSON {
        ["type": "tally/federated-request/v1", "query": .string(queryID), "policy": .string(policyID), "requester": .string(requester),
         "sql": .string(sql), "parameters": .object(parameters.mapValues { .string($0) }), "pinned_time": .int(pinnedTime),
         "height": .int(pinnedHeight), "submission_index": .int(Int64(submissionIndex))]
    }

    public var json: JSON { signedJSON.setting("signature", .string(signature.base64)) }

    public init(json: JSON) throws {
        guard let q = json["query"]?.stringValue, let p = json["policy"]?.stringValue, let r = json["requester"]?.stringValue,
              let sql = json["sql"]?.stringValue, let t = json["pinned_time"]?.intValue, let h = json["height"]?.intValue,
              let i = json["submission_index"]?.intValue, let sig = json["signature"]?.stringValue.flatMap({ [UInt8](base64: $0) })
        else { throw FederationError.malformed("federated request lacks a field") }
        self.init(queryID: q, policyID: p, requester: r, sql: sql,
                  parameters: (json["parameters"]?.objectValue ?? [:]).compactMapValues(\.stringValue), pinnedTime: t, pinnedHeight: h,
                  submissionIndex: Int(i))
        signature = sig
    }

    public mutating func sign(_ key: SigningKey) { signature = key.signAggregate(signedJSON.canonicalBytes) }
    public func isValid(signedBy key: PublicSigningKey) -> Bool { key.isValid(aggregateSignature: signature, for: signedJSON.canonicalBytes) }

    /// The hash the submission recorded on the ledger.
    public var sqlHash: String { Hash32.sha256(Array(sql.utf8)).hex }
}

public enum FederationError: Error, CustomStringConvertible, Equatable {
    case malformed(String)
    case unauthenticated(String)
    case notSubmitted(String)

    public var description: String {
        switch self {
        case .malformed(let m): return "malformed: \(m)"
        case .unauthenticated(let m): return "unauthenticated: \(m)"
        case .notSubmitted(let m): return "not submitted on the ledger: \(m)"
        }
    }
}

extension MemberService {
    /// Checks a coordinator's request against this member's ledger copy, then evaluates it. The
    /// signature must verify against the requester's member key, and the `audit.query` submission at
    /// (height, index) must name this query, policy and SQL hash, sent by the requester.
    public func answer(_ fr: FederatedRequest) throws -> SiteResult {
        guard let m = try ledger.value(StateKey.member(fr.requester)), m["status"]?.stringValue == "active",
              let key = m["signing_key"]?.stringValue.flatMap(PublicSigningKey.init(base64:)), fr.isValid(signedBy: key) else {
            throw FederationError.unauthenticated("the request is not signed by \(fr.requester)'s member key")
        }
        let event = try ledger.value(AuditKey.make(subject: "query", height: fr.pinnedHeight, index: fr.submissionIndex, n: 0))
        guard let e = event, e["query"]?.stringValue == fr.queryID, e["policy"]?.stringValue == fr.policyID,
              e["query_hash"]?.stringValue == fr.sqlHash, e["org"]?.stringValue == fr.requester else {
            throw FederationError.notSubmitted("no audit.query submission \(fr.queryID) at block \(fr.pinnedHeight) with this SQL")
        }
        var r = QueryRequest(queryID: fr.queryID, policyID: fr.policyID, requester: fr.requester, sql: fr.sql,
                             pinnedTime: fr.pinnedTime, pinnedHeight: fr.pinnedHeight)
        // Admitted once: the policy's declared parameter types say how the text values are bound.
        let a = try admit(r)
        for (k, v) in fr.parameters {
            if let t = a.allowances.parameters?[k], t == "int" || t == "integer" {
                guard let i = Int64(v) else { throw Refusal.parameter("\(k) must be an integer") }
                r.parameters[k] = .integer(i)
            } else {
                r.parameters[k] = .text(v)
            }
        }
        return try evaluate(r, admitted: a).result
    }
}

extension Cell {
    public init(json: JSON) throws {
        switch json {
        case .null: self = .value(.null)
        case .int(let i): self = .value(.integer(i))
        case .string(let s): self = .value(.text(s))
        case .object(let o):
            if o["suppressed"] == .bool(true) { self = .suppressed; return }
            if let r = o["real"]?.stringValue, let d = Double(r) { self = .value(.real(d)); return }
            if let b = o["blob"]?.stringValue, let bytes = [UInt8](base64: b) { self = .value(.blob(bytes)); return }
            throw FederationError.malformed("cell \(json.canonicalString)")
        default: throw FederationError.malformed("cell \(json.canonicalString)")
        }
    }
}

extension SiteResult {
    public var json: JSON {
        let j = signedJSON.setting("signature", .string(signature.base64))
        return timings.isEmpty ? j : j.setting("timings_us", .object(timings.mapValues { .int(Int64(($0 * 1000).rounded())) }))
    }

    public init(json: JSON) throws {
        guard let site = json["site"]?.stringValue, let q = json["query"]?.stringValue, let p = json["policy"]?.stringValue,
              let t = json["pinned_time"]?.intValue, let h = json["height"]?.intValue, let k = json["k"]?.intValue,
              let cols = json["columns"]?.arrayValue, let rows = json["rows"]?.arrayValue,
              let sig = json["signature"]?.stringValue.flatMap({ [UInt8](base64: $0) }) else {
            throw FederationError.malformed("site result lacks a field")
        }
        self.init(site: site, queryID: q, policyID: p, pinnedTime: t, height: h, k: k, columns: cols.compactMap(\.stringValue),
                  rows: try rows.map { try ($0.arrayValue ?? []).map(Cell.init(json:)) },
                  suppressedRows: Int(json["suppressed_rows"]?.intValue ?? 0), suppressedCells: Int(json["suppressed_cells"]?.intValue ?? 0),
                  signature: sig)
        timings = (json["timings_us"]?.objectValue ?? [:]).compactMapValues { $0.intValue.map { Double($0) / 1000 } }
    }
}

/// How one custodian's part of a federated query ended.
public enum SiteOutcome: Sendable {
    case answered(SiteResult)
    /// The site declined, with its reason (e.g. it did not approve the policy).
    case refused(site: String, code: String, reason: String)
    /// No usable answer: down, too slow, or an answer that failed verification.
    case missing(site: String, reason: String)

    public var site: String {
        switch self {
        case .answered(let r): return r.site
        case .refused(let s, _, _), .missing(let s, _): return s
        }
    }
}

/// A merged federated result with its provenance.
public struct FederatedResult: Sendable {
    public var queryID: String
    public var policyID: String
    public var requester: String
    public var pinnedTime: Int64
    public var height: Int64
    public var k: Int64
    public var columns: [String]
    public var rows: [[Cell]]
    public var sitesAnswered: [String]
    public var sitesRefused: [(site: String, code: String, reason: String)]
    public var sitesMissing: [(site: String, reason: String)]
    /// Rows withheld at the sites (fewer than k patients there), summed.
    public var rowsSuppressedAtSites: Int
    /// Cells withheld at the sites, and cells marked suppressed after merging.
    public var cellsSuppressed: Int
    public var rowsSuppressedAfterMerge: Int
    /// Where the time went, in milliseconds: `submit` (recorded on the ledger), `fanout` (slowest
    /// site, including its wait for the pinned block), `merge`.
    public var timings: [String: Double] = [:]

    public var isPartial: Bool { !sitesMissing.isEmpty }

    public var json: JSON {
        ["query": .string(queryID), "policy": .string(policyID), "requester": .string(requester), "pinned_time": .int(pinnedTime),
         "height": .int(height), "k": .int(k), "columns": .array(columns.map { .string($0) }),
         "rows": .array(rows.map { .array($0.map(\.json)) }),
         "sites_answered": .array(sitesAnswered.map { .string($0) }),
         "sites_refused": .array(sitesRefused.map { ["site": .string($0.site), "code": .string($0.code), "reason": .string($0.reason)] }),
         "sites_missing": .array(sitesMissing.map { ["site": .string($0.site), "reason": .string($0.reason)] }),
         "partial": .bool(isPartial), "rows_suppressed_at_sites": .int(Int64(rowsSuppressedAtSites)),
         "cells_suppressed": .int(Int64(cellsSuppressed)), "rows_suppressed_after_merge": .int(Int64(rowsSuppressedAfterMerge)),
         "timings_us": .object(timings.mapValues { .int(Int64(($0 * 1000).rounded())) })]
    }

    public init(json: JSON) throws {
        guard let q = json["query"]?.stringValue, let p = json["policy"]?.stringValue, let cols = json["columns"]?.arrayValue,
              let rows = json["rows"]?.arrayValue else { throw FederationError.malformed("federated result lacks a field") }
        queryID = q
        policyID = p
        requester = json["requester"]?.stringValue ?? ""
        pinnedTime = json["pinned_time"]?.intValue ?? 0
        height = json["height"]?.intValue ?? 0
        k = json["k"]?.intValue ?? 0
        columns = cols.compactMap(\.stringValue)
        self.rows = try rows.map { try ($0.arrayValue ?? []).map(Cell.init(json:)) }
        sitesAnswered = (json["sites_answered"]?.arrayValue ?? []).compactMap(\.stringValue)
        sitesRefused = (json["sites_refused"]?.arrayValue ?? []).map { ($0["site"]?.stringValue ?? "?", $0["code"]?.stringValue ?? "", $0["reason"]?.stringValue ?? "") }
        sitesMissing = (json["sites_missing"]?.arrayValue ?? []).map { ($0["site"]?.stringValue ?? "?", $0["reason"]?.stringValue ?? "") }
        rowsSuppressedAtSites = Int(json["rows_suppressed_at_sites"]?.intValue ?? 0)
        cellsSuppressed = Int(json["cells_suppressed"]?.intValue ?? 0)
        rowsSuppressedAfterMerge = Int(json["rows_suppressed_after_merge"]?.intValue ?? 0)
        timings = (json["timings_us"]?.objectValue ?? [:]).compactMapValues { $0.intValue.map { Double($0) / 1000 } }
    }

    init(queryID: String, policyID: String, requester: String, pinnedTime: Int64, height: Int64, k: Int64, columns: [String], rows: [[Cell]],
         sitesAnswered: [String], sitesRefused: [(site: String, code: String, reason: String)], sitesMissing: [(site: String, reason: String)],
         rowsSuppressedAtSites: Int, cellsSuppressed: Int, rowsSuppressedAfterMerge: Int) {
        self.queryID = queryID
        self.policyID = policyID
        self.requester = requester
        self.pinnedTime = pinnedTime
        self.height = height
        self.k = k
        self.columns = columns
        self.rows = rows
        self.sitesAnswered = sitesAnswered
        self.sitesRefused = sitesRefused
        self.sitesMissing = sitesMissing
        self.rowsSuppressedAtSites = rowsSuppressedAtSites
        self.cellsSuppressed = cellsSuppressed
        self.rowsSuppressedAfterMerge = rowsSuppressedAfterMerge
    }
}

/// Merges verified site answers by the query's merge plan and applies the threshold again.
///
/// Rows are grouped by their key columns. Counts and sums add up; MIN/MAX take the extreme; a cell a
/// site withheld makes the merged cell withheld (its true value is unknown, and a partial sum would
/// mislead); the distinct-patient column adds up and is never released. After merging, a row backed by
/// fewer than k patients is withheld, a count cell between 1 and k−1 is withheld, AVG is divided out,
/// and ORDER BY / LIMIT are applied.
public enum Merger {
    public static func merge(_ outcomes: [SiteOutcome], plan: MergePlan, request: FederatedRequest, k: Int64) -> FederatedResult {
        var answered: [SiteResult] = []
        var refused: [(String, String, String)] = []
        var missing: [(String, String)] = []
        for o in outcomes {
            switch o {
            case .answered(let r): answered.append(r)
            case .refused(let s, let c, let m): refused.append((s, c, m))
            case .missing(let s, let m): missing.append((s, m))
            }
        }
        let keyCols = plan.siteColumns.indices.filter { plan.siteColumns[$0].combine == .key }
        var groups: [String: [Cell]] = [:]
        var order: [String] = []
        var cellsSuppressed = answered.reduce(0) { $0 + $1.suppressedCells }
        for r in answered.sorted(by: { $0.site < $1.site }) {
            for row in r.rows where row.count == plan.siteColumns.count {
                let key = keyCols.map { row[$0].json.canonicalString }.joined(separator: "\u{1}")
                guard var acc = groups[key] else {
                    groups[key] = row
                    order.append(key)
                    continue
                }
                for (i, col) in plan.siteColumns.enumerated() {
                    acc[i] = combine(acc[i], row[i], col.combine)
                }
                groups[key] = acc
            }
        }
        var rows: [[Cell]] = []
        var suppressedAfter = 0
        for key in order {
            let row = groups[key]!
            guard case .value(.integer(let patients)) = row[plan.patientsColumn], patients >= k else {
                suppressedAfter += 1
                continue
            }
            var out: [Cell] = []
            for o in plan.outputs {
                switch o.value {
                case .column(let c):
                    var cell = row[c]
                    let kind = plan.siteColumns[c].combine
                    if kind == .count || kind == .sumOfDistinct, case .value(.integer(let v)) = cell, v > 0, v < k {
                        cell = .suppressed
                        cellsSuppressed += 1
                    }
                    out.append(cell)
                case .average(let s, let c):
                    if case .value(let sv) = row[s], case .value(let cv) = row[c], let sum = number(sv), let n = number(cv), n > 0 {
                        out.append(.value(.real(sum / n)))
                    } else {
                        out.append(.suppressed)
                    }
                }
            }
            rows.append(out)
        }
        for term in plan.orderBy.reversed() {
            rows = stableSort(rows) { a, b in
                let c = compare(a[term.output], b[term.output])
                return term.descending ? c > 0 : c < 0
            }
        }
        if let limit = plan.limit { rows = Array(rows.prefix(limit)) }
        return FederatedResult(queryID: request.queryID, policyID: request.policyID, requester: request.requester,
                               pinnedTime: request.pinnedTime, height: request.pinnedHeight, k: k, columns: plan.outputs.map(\.name), rows: rows,
                               sitesAnswered: answered.map(\.site).sorted(), sitesRefused: refused.sorted { $0.0 < $1.0 },
                               sitesMissing: missing.sorted { $0.0 < $1.0 },
                               rowsSuppressedAtSites: answered.reduce(0) { $0 + $1.suppressedRows },
                               cellsSuppressed: cellsSuppressed, rowsSuppressedAfterMerge: suppressedAfter)
    }

    static func combine(_ a: Cell, _ b: Cell, _ how: Combine) -> Cell {
        switch how {
        case .key, .constant: return a
        case .sum, .count, .sumOfDistinct, .patients:
            guard case .value(let x) = a, case .value(let y) = b else { return .suppressed }
            switch (x, y) {
            case (.integer(let i), .integer(let j)): return .value(.integer(i + j))
            case (.null, _): return b
            case (_, .null): return a
            default:
                if let p = number(x), let q = number(y) { return .value(.real(p + q)) }
                return .suppressed
            }
        case .min, .max:
            guard case .value(let x) = a, case .value(let y) = b else { return .suppressed }
            if case .null = x { return b }
            if case .null = y { return a }
            let c = compare(.value(x), .value(y))
            return (how == .min) == (c <= 0) ? a : b
        }
    }

    static func number(_ v: SQLValue) -> Double? {
        switch v {
        case .integer(let i): return Double(i)
        case .real(let d): return d
        default: return nil
        }
    }

    /// SQLite's order: NULL < numbers < text < blob; suppressed cells last.
    static func compare(_ a: Cell, _ b: Cell) -> Int {
        func rank(_ c: Cell) -> Int {
            switch c {
            case .suppressed: return 5
            case .value(.null): return 0
            case .value(.integer), .value(.real): return 1
            case .value(.text): return 2
            case .value(.blob): return 3
            }
        }
        let ra = rank(a), rb = rank(b)
        if ra != rb { return ra < rb ? -1 : 1 }
        switch (a, b) {
        case (.value(let x), .value(let y)):
            if let p = number(x), let q = number(y) { return p < q ? -1 : (p > q ? 1 : 0) }
            if case .text(let s) = x, case .text(let t) = y { return s < t ? -1 : (s > t ? 1 : 0) }
            return 0
        default: return 0
        }
    }

    static func stableSort(_ rows: [[Cell]], by less: ([Cell], [Cell]) -> Bool) -> [[Cell]] {
        rows.enumerated().sorted { x, y in
            if less(x.element, y.element) { return true }
            if less(y.element, x.element) { return false }
            return x.offset < y.offset
        }.map(\.element)
    }
}
