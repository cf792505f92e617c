import DeidSQL
import Federation
import Foundation
import Ledger
import SQLiteStore

/// Plain-text rendering of a released result (averages divided, the internal patient count hidden).
public enum ResultText {
    public static func text(_ c: Cell) -> String {
        switch c {
        case .suppressed: return "(suppressed)"
        case .value(.null): return "NULL"
        case .value(.integer(let i)): return String(i)
        case .value(.real(let d)): return String(format: "%.3f", d)
        case .value(.text(let s)): return s
        case .value(.blob): return "(blob)"
        }
    }

    /// Applies the plan's ORDER BY (which the coordinator, not the sites, owns) and LIMIT.
    public static func ordered(_ rows: [[Cell]], plan: MergePlan) -> [[Cell]] {
        func key(_ c: Cell) -> (Int, Double, String) {
            switch c {
            case .value(.integer(let i)): return (1, Double(i), "")
            case .value(.real(let d)): return (1, d, "")
            case .value(.text(let t)): return (2, 0, t)
            default: return (0, 0, "")
            }
        }
        var out = rows
        if !plan.orderBy.isEmpty {
            out.sort { a, b in
                for t in plan.orderBy {
                    guard case .column(let i) = plan.outputs[t.output].value else { continue }
                    let ka = key(a[i]), kb = key(b[i])
                    if ka == kb { continue }
                    return t.descending ? kb < ka : ka < kb
                }
                return false
            }
        }
        if let l = plan.limit { out = Array(out.prefix(l)) }
        return out
    }

    /// The result columns (averages divided), without the internal patient count.
    public static func render(_ r: SiteResult, plan: MergePlan) -> String {
        let headers = plan.outputs.map(\.name)
        let rows: [[String]] = ResultText.ordered(r.rows, plan: plan).map { row in
            plan.outputs.map { o in
                switch o.value {
                case .column(let i): return text(row[i])
                case .average(let s, let c):
                    guard case .value(let sv) = row[s], case .value(.integer(let n)) = row[c], n > 0 else { return "(suppressed)" }
                    let sum: Double
                    switch sv {
                    case .integer(let i): sum = Double(i)
                    case .real(let d): sum = d
                    default: return "NULL"
                    }
                    return String(format: "%.2f", sum / Double(n))
                }
            }
        }
        var widths = headers.map(\.count)
        for row in rows { for (i, v) in row.enumerated() { widths[i] = max(widths[i], v.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        var out = [line(headers), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        out += rows.map(line)
        return out.joined(separator: "\n")
    }
}

extension ResultText {
    /// A merged result as a table, suppressed cells marked, followed by its provenance.
    public static func render(_ r: FederatedResult) -> String {
        let rows = r.rows.map { $0.map(text) }
        var widths = r.columns.map(\.count)
        for row in rows { for (i, v) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], v.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        var out = [line(r.columns), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        out += rows.map(line)
        if rows.isEmpty { out.append("(no rows released)") }
        out.append("")
        out += provenance(r)
        return out.joined(separator: "\n")
    }

    public static func provenance(_ r: FederatedResult) -> [String] {
        var out = ["query \(r.queryID) under policy \(r.policyID) for \(r.requester), pinned at block \(r.height) (\(MemberService.sqlTime(r.pinnedTime)) UTC), k = \(r.k)"]
        out.append("sites answered: \(r.sitesAnswered.isEmpty ? "none" : r.sitesAnswered.joined(separator: ", "))")
        for s in r.sitesRefused { out.append("site refused:   \(s.site) — \(s.reason)") }
        for s in r.sitesMissing { out.append("site missing:   \(s.site) — \(s.reason)") }
        if r.isPartial { out.append("PARTIAL RESULT: the missing sites' data is not included") }
        out.append("suppressed: \(r.rowsSuppressedAtSites) row(s) withheld at sites (fewer than k patients), \(r.rowsSuppressedAfterMerge) after merging, \(r.cellsSuppressed) cell(s) marked")
        return out
    }

    public static func csv(_ r: FederatedResult) -> String {
        func field(_ s: String) -> String { s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
        var lines = [r.columns.map(field).joined(separator: ",")]
        for row in r.rows { lines.append(row.map { c in c == .suppressed ? "" : field(text(c)) }.joined(separator: ",")) }
        return lines.joined(separator: "\n") + "\n"
    }
}
