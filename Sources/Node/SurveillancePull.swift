import Federation
import Foundation

/// Public health's scheduled pull: stores the complete days of a merged surveillance result that are not
/// stored yet. Idempotent — a (policy, value set, region, day) already pulled is left as it is — and
/// conservative: today (still incomplete) is never stored, and nothing is stored from a partial result
/// unless asked, so a day is not frozen without a site that was briefly down.
public enum SurveillancePull {
    public struct Outcome: Equatable {
        public var stored: Int
        public var alreadyPulled: Int
        public var skippedToday: Int
        public var days: [String]

        public init(stored: Int, alreadyPulled: Int, skippedToday: Int, days: [String]) {
            self.stored = stored
            self.alreadyPulled = alreadyPulled
            self.skippedToday = skippedToday
            self.days = days
        }
    }

    public enum Failure: Error, CustomStringConvertible {
        case partial([String])
        case shape(String)
        public var description: String {
            switch self {
            case .partial(let s): return "result is partial (missing: \(s.joined(separator: ", "))); nothing stored — rerun later or pass --accept-partial"
            case .shape(let m): return m
            }
        }
    }

    /// `result` must have `region`, `day` and a count column (`countColumn`, default the third).
    public static func store(_ result: FederatedResult, into store: SurveillanceResults, valueSet: String, today: String,
                             countColumn: String? = nil, acceptPartial: Bool = false) throws -> Outcome {
        if result.isPartial && !acceptPartial { throw Failure.partial(result.sitesMissing.map(\.site)) }
        guard let ri = result.columns.firstIndex(of: "region"), let di = result.columns.firstIndex(of: "day") else {
            throw Failure.shape("a surveillance result needs region and day columns (has \(result.columns.joined(separator: ", ")))")
        }
        let ci = countColumn.flatMap { result.columns.firstIndex(of: $0) } ?? 2
        guard ci < result.columns.count else { throw Failure.shape("no count column") }
        var rows: [SurveillanceResults.Row] = []
        var skipped = 0
        for r in result.rows {
            guard case .value(.text(let region)) = r[ri], case .value(.text(let day)) = r[di] else { continue }
            if day >= today { skipped += 1; continue }
            var count: Int64?
            if case .value(.integer(let n)) = r[ci] { count = n }
            rows.append(.init(queryID: result.queryID, policyID: result.policyID, height: result.height, pinnedTime: result.pinnedTime,
                              region: region, day: day, valueSet: valueSet, count: count, sitesAnswered: result.sitesAnswered,
                              sitesMissing: result.sitesMissing.map(\.site)))
        }
        let stored = try store.append(rows)
        return Outcome(stored: stored, alreadyPulled: rows.count - stored, skippedToday: skipped, days: Array(Set(rows.map(\.day))).sorted())
    }
}
