import Foundation
import Ledger
import SQLiteStore
import Testing

/// New ledger files use `Ledger.filePageSize`; a file made with SQLite's default 4 KiB pages (every
/// file before that change) opens, verifies and takes new blocks in its own page size; and the
/// conversion `Docs/OPERATIONS.md` gives (`VACUUM INTO` with a page size) keeps every answer.
@Suite struct PageSizeTests {
    static func pageSize(_ path: String) throws -> Int64? {
        guard case .integer(let n)? = try Database(path: path, flags: [.readOnly]).scalar("PRAGMA page_size") else { return nil }
        return n
    }

    static func copy(_ from: String, to: String, pageSize: Int) throws {
        try Database(path: from, flags: [.readOnly]).execute("PRAGMA page_size=\(pageSize); VACUUM INTO '\(to)'")
    }

    @Test func oldPageSizesStayReadableAndConvert() throws {
        let c = try LedgerVerificationTests().populated()
        #expect(try Self.pageSize(c.ledger.path) == Int64(Ledger.filePageSize))
        let root = c.ledger.ledgerRoot

        // A file as an earlier build made it.
        let old = c.dir.appendingPathComponent("old.sqlite").path
        try Self.copy(c.ledger.path, to: old, pageSize: 4096)
        #expect(try Self.pageSize(old) == 4096)
        let reopened = try Ledger(path: old)
        #expect(try Self.pageSize(old) == 4096)
        let report = try LedgerVerifier.verify(path: old, genesis: c.genesis)
        #expect(report.ok && report.ledgerRoot == root)
        let before = reopened.height
        let out = try reopened.submit([c.signer("general-hospital").sign("patient.register", ["patient": .string("PAT-" + String(repeating: "e", count: 20)),
                                                                                              "demographic_hash": .string(String(repeating: "c", count: 64))])],
                                      proposer: c.proposer, time: c.now + 10)
        #expect(out[0].receipt != nil && reopened.height == before + 1)
        let grown = reopened.ledgerRoot
        #expect(try LedgerVerifier.verify(path: old, genesis: c.genesis).ok)

        // Converted to the current page size: the same ledger.
        let converted = c.dir.appendingPathComponent("converted.sqlite").path
        try Self.copy(old, to: converted, pageSize: Ledger.filePageSize)
        #expect(try Self.pageSize(converted) == Int64(Ledger.filePageSize))
        let again = try LedgerVerifier.verify(path: converted, genesis: c.genesis)
        #expect(again.ok && again.ledgerRoot == grown && again.height == before + 1)
    }
}
