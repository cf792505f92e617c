import Foundation
import Ledger

/// The privacy officer's queue: emergency (break-glass) accesses to patients whose records this
/// organisation holds, or made by its own staff, that no one has reviewed yet.
public struct BreakGlassQueue {
    public struct Item: Sendable {
        public var access: String
        public var patient: String
        public var actor: String
        public var org: String
        public var purpose: String
        public var time: Int64
        public var overdue: Bool

        public var json: JSON {
            ["access": .string(access), "patient": .string(patient), "actor": .string(actor), "org": .string(org),
             "purpose": .string(purpose), "time": .int(time), "overdue": .bool(overdue)]
        }
    }

    /// Pending reviews visible to `org`, oldest first; `overdue` when older than `reviewWithin` at `now`.
    public static func pending(ledger: Ledger, org: String, now: Int64, reviewWithin: Int64) throws -> [Item] {
        var out: [Item] = []
        var holdersCache: [String: Bool] = [:]
        for (key, a) in try ledger.entries(prefix: "access/") where a["review"]?["status"]?.stringValue == "pending" {
            let pid = a["patient"]?.stringValue ?? ""
            let ours: Bool
            if a["org"]?.stringValue == org {
                ours = true
            } else if let c = holdersCache[pid] {
                ours = c
            } else {
                ours = try ledger.value(StateKey.patient(pid))?["locations"]?[org] != nil
                holdersCache[pid] = ours
            }
            guard ours else { continue }
            let t = a["time"]?.intValue ?? 0
            out.append(Item(access: String(key.dropFirst("access/".count)), patient: pid, actor: a["actor"]?.stringValue ?? "?",
                            org: a["org"]?.stringValue ?? "?", purpose: a["purpose"]?.stringValue ?? "", time: t, overdue: now - t > reviewWithin))
        }
        return out.sorted { ($0.time, $0.access) < ($1.time, $1.access) }
    }
}
