import Foundation
@testable import Ledger
import Testing

/// The newest committed blocks kept decoded (bounded by count and bytes), the height read beside
/// them, and the bulk state look-up bulk ingest uses.
@Suite struct RecentBlocksTests {
    static let ids = PatientIdentity(consortiumSecret: Array(repeating: 9, count: 32))

    /// Commits `n` blocks of one registration each; returns each block's transaction hash by height.
    static func commitBlocks(_ c: TestConsortium, _ n: Int, from first: Int = 0) throws -> [Int64: Hash32] {
        var out: [Int64: Hash32] = [:]
        for i in first..<(first + n) {
            let tx = c.signer("general-hospital").sign("patient.register", [
                "patient": .string(ids.pseudonym(system: "urn:test", identifier: "R-\(i)")),
                "demographic_hash": .string(ids.demographicHash(family: "f\(i)", given: "g", birthDate: "1980-01-01"))])
            try c.expectCommitted(tx)
            out[c.ledger.height] = tx.hash
        }
        return out
    }

    @Test func onlyTheNewestBlocksStayDecodedAndEveryBlockStillReadsBack() throws {
        let c = try TestConsortium()
        c.ledger.recentBlockLimit = (count: 3, bytes: 1 << 30)
        let start = c.ledger.height
        let txs = try Self.commitBlocks(c, 8)
        let top = c.ledger.height
        #expect(top == start + 8)
        #expect(c.ledger.decodedBlockHeights == [top - 2, top - 1, top])
        // Blocks dropped from memory are read from the file; both agree with what was committed,
        // and each links to the one before.
        var previous = try c.ledger.block(at: start).hash
        for h in (start + 1)...top {
            let b = try c.ledger.block(at: h)
            #expect(b.header.height == h)
            #expect(b.header.previous == previous)
            #expect(b.transactions.map(\.hash) == [txs[h]!])
            previous = b.hash
        }
        #expect(previous == c.ledger.head.hash)
    }

    @Test func theByteBoundKeepsAtLeastTheNewestBlock() throws {
        let c = try TestConsortium()
        _ = try Self.commitBlocks(c, 2)
        c.ledger.recentBlockLimit = (count: 256, bytes: 1) // every block is over the bound
        _ = try Self.commitBlocks(c, 3, from: 2)
        #expect(c.ledger.decodedBlockHeights == [c.ledger.height])
        #expect(try c.ledger.block(at: c.ledger.height).hash == c.ledger.head.hash)
    }

    @Test func bulkLookUpAgreesWithSingleLookUps() throws {
        let c = try TestConsortium()
        _ = try Self.commitBlocks(c, 3)
        let present = (0..<3).map { StateKey.patient(Self.ids.pseudonym(system: "urn:test", identifier: "R-\($0)")) }
        let absent = [StateKey.patient(Self.ids.pseudonym(system: "urn:test", identifier: "never")), "no-such-key"]
        let values = try c.ledger.values(present + absent)
        #expect(Set(values.keys) == Set(present))
        for k in present { #expect(try values[k] == c.ledger.value(k)) }
    }
}
