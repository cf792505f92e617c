import Federation
import Foundation
import Ledger
import Node
import Testing

@Suite struct SurveillancePullTests {
    func result(partial: Bool = false, query: String = "query-1") throws -> FederatedResult {
        let rows: [JSON] = [
            ["north", "2026-11-20", 14, 15], ["north", "2026-11-21", ["suppressed": true], 3], ["south", "2026-11-21", 12, 12],
            ["north", "2026-11-22", 30, 31],
        ]
        var j: JSON = ["query": .string(query), "policy": "ili-surveillance", "requester": "state-health", "pinned_time": 1_795_000_000_000,
                       "height": 40, "k": 11, "columns": ["region", "day", "ili_patients", "ili_encounters"], "rows": .array(rows),
                       "sites_answered": ["city-medical", "general-hospital"], "sites_refused": [], "sites_missing": []]
        if partial { j = j.setting("sites_missing", [["site": "city-medical", "reason": "down"]]) }
        return try FederatedResult(json: j)
    }

    @Test func pullsAreIdempotentSkipTodayAndRefusePartialResults() throws {
        let dir = try temporaryDirectory("pull")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try SurveillanceResults(path: dir.appendingPathComponent("results.sqlite").path)
        let first = try SurveillancePull.store(try result(), into: store, valueSet: "influenza-like-illness", today: "2026-11-22")
        #expect(first == .init(stored: 3, alreadyPulled: 0, skippedToday: 1, days: ["2026-11-20", "2026-11-21"]))
        let again = try SurveillancePull.store(try result(query: "query-2"), into: store, valueSet: "influenza-like-illness", today: "2026-11-22")
        #expect(again.stored == 0 && again.alreadyPulled == 3)
        #expect(store.count == 3)
        let stored = try store.rows(after: 0)
        #expect(stored.map(\.row.count) == [14, nil, 12], "a suppressed cell is stored as unknown, never as a number")
        #expect(stored.allSatisfy { $0.row.queryID == "query-1" }, "the first pull's provenance is kept")
        #expect(throws: SurveillancePull.Failure.self) {
            try SurveillancePull.store(try result(partial: true), into: store, valueSet: "influenza-like-illness", today: "2026-11-23")
        }
        #expect(store.count == 3)
    }
}
