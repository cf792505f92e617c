import DeidSQL
import Foundation
import Ledger
import SQLiteStore

extension MemberService {
    /// Where a federated query was submitted: its record on this member's ledger (`audit.query`).
    public func submission(_ queryID: String) throws -> (height: Int64, record: JSON)? {
        guard Member.isValidID(queryID), let q = try ledger.value(StateKey.query(queryID)), let h = q["height"]?.intValue else { return nil }
        return (h, q)
    }

    /// Trial outreach without disclosure: the custodian's own patients behind a federated query's
    /// counts, each with its row's group keys, evaluated exactly as the member evaluated the query
    /// (same pinned time and height, same consent filter, same sandbox). For local use only — no API
    /// serves it, and nothing leaves the custodian.
    public func cohort(queryID: String, sql: String, parameters: [String: SQLValue]) throws -> (columns: [String], rows: [[SQLValue]]) {
        guard let (height, e) = try submission(queryID) else { throw Refusal.invalidQuery("no query \(queryID) on this node's ledger") }
        guard e["query_hash"]?.stringValue == Hash32.sha256(Array(sql.utf8)).hex else {
            throw Refusal.invalidQuery("this SQL is not the text submitted as \(queryID) (its SHA-256 differs)")
        }
        guard let policy = e["policy"]?.stringValue, let requester = e["requester"]?.stringValue, let time = e["time"]?.intValue else {
            throw Refusal.invalidQuery("the submission of \(queryID) is incomplete")
        }
        let r = QueryRequest(queryID: queryID, policyID: policy, requester: requester, sql: sql, parameters: parameters, pinnedTime: time, pinnedHeight: height)
        guard views.height >= height else { throw Refusal.notCaughtUp(views: views.height, needed: height) }
        let a = try admit(r)
        let (rw, bindings) = try rewrite(r, a)
        return try runSandboxed(rw.cohortSQL, bindings: bindings)
    }
}
