import Foundation
import Node
import Testing

@Suite struct LedgerTourTests {
    @Test func demoScenarioRunsAndItsLedgerVerifies() throws {
        let root = try temporaryDirectory("tour")
        defer { try? FileManager.default.removeItem(at: root) }
        var lines: [String] = []
        let queries = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Queries")
        let s = try LedgerTour(root: root, queries: queries) { lines.append($0) }.run()
        #expect(s.queriesRun == 2)
        #expect(s.verified)
        #expect(s.proofChecked)
        let text = lines.joined(separator: "\n")
        #expect(!text.contains("UNEXPECTED"))
        #expect(!text.contains("?!"))
        #expect(text.contains("FLAGGED for review"))
        #expect(text.contains("denied (revoked)"))
        #expect(text.contains("signed by general-hospital: verified"))
        #expect(text.contains("refused by general-hospital"))
        // No plaintext of the sealed note is printed.
        #expect(!text.contains("essential hypertension"))
    }
}
