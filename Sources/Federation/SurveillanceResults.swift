import Foundation
import SQLiteStore

/// A public-health node's store of pulled surveillance counts (`DIR/results.sqlite`): aggregate rows
/// with their provenance, appended in order. The warehouse mirror reads it incrementally.
public final class SurveillanceResults {
    public struct Row: Equatable, Sendable {
        public var queryID: String
        public var policyID: String
        public var height: Int64
        public var pinnedTime: Int64
        public var region: String
        public var day: String
        public var valueSet: String
        /// Nil when the cell was suppressed.
        public var count: Int64?
        public var sitesAnswered: [String]
        public var sitesMissing: [String]

        public init(queryID: String, policyID: String, height: Int64, pinnedTime: Int64, region: String, day: String, valueSet: String,
                    count: Int64?, sitesAnswered: [String], sitesMissing: [String]) {
            self.queryID = queryID
            self.policyID = policyID
            self.height = height
            self.pinnedTime = pinnedTime
            self.region = region
            self.day = day
            self.valueSet = valueSet
            self.count = count
            self.sitesAnswered = sitesAnswered
            self.sitesMissing = sitesMissing
        }
    }

    let db: Database

    public init(path: String) throws {
        db = try Database(path: path)
        try db.execute("""
        PRAGMA journal_mode=WAL;
        CREATE TABLE IF NOT EXISTS results(
            id INTEGER PRIMARY KEY AUTOINCREMENT, query_id TEXT NOT NULL, policy_id TEXT NOT NULL, height INTEGER NOT NULL,
            pinned_time INTEGER NOT NULL, region TEXT NOT NULL, day TEXT NOT NULL, value_set TEXT NOT NULL, count INTEGER,
            sites_answered TEXT NOT NULL, sites_missing TEXT NOT NULL,
            UNIQUE(policy_id, value_set, region, day));
        """)
    }

    /// Appends rows; a (policy, value set, region, day) already stored is left as it is (pulls are idempotent).
    @discardableResult
    public func append(_ rows: [Row]) throws -> Int {
        var n = 0
        try db.transaction {
            let st = try db.prepare("INSERT OR IGNORE INTO results(query_id, policy_id, height, pinned_time, region, day, value_set, count, sites_answered, sites_missing) VALUES (?,?,?,?,?,?,?,?,?,?)")
            for r in rows {
                try st.run([.text(r.queryID), .text(r.policyID), .integer(r.height), .integer(r.pinnedTime), .text(r.region), .text(r.day), .text(r.valueSet),
                            r.count.map { .integer($0) } ?? .null, .text(r.sitesAnswered.joined(separator: ",")), .text(r.sitesMissing.joined(separator: ","))])
                n += db.changes
            }
        }
        return n
    }

    /// Rows with id greater than `after`, in id order.
    public func rows(after: Int64, limit: Int = 10_000) throws -> [(id: Int64, row: Row)] {
        try db.rows("SELECT id, query_id, policy_id, height, pinned_time, region, day, value_set, count, sites_answered, sites_missing FROM results WHERE id > ? ORDER BY id LIMIT ?",
                    [.integer(after), .integer(Int64(limit))]).map { r in
            (r[0].intValue!, Row(queryID: r[1].textValue!, policyID: r[2].textValue!, height: r[3].intValue!, pinnedTime: r[4].intValue!,
                                 region: r[5].textValue!, day: r[6].textValue!, valueSet: r[7].textValue!, count: r[8].intValue,
                                 sitesAnswered: r[9].textValue!.split(separator: ",").map(String.init),
                                 sitesMissing: r[10].textValue!.split(separator: ",").map(String.init)))
        }
    }

    public var count: Int64 { (try? db.scalar("SELECT count(*) FROM results"))??.intValue ?? 0 }
}
