import Foundation
@testable import Ledger
import Testing

/// The presence filter only ever saves a look-up: a key that was written is always found, whether
/// it was written before the filter was built, after it, or while it was being rebuilt larger.
@Suite struct KeyPresenceTests {
    @Test func noFalseNegativesAndFewFalsePositivesAtCapacity() {
        var rng = SeededGenerator(seed: 42)
        var f = KeyPresenceFilter(capacity: 100_000)
        let present = (0..<f.capacity).map { _ in Int64(bitPattern: rng.next()) }
        for h in present { f.insert(h) }
        #expect(present.allSatisfy { f.mayContain($0) })
        let absent = (0..<100_000).map { _ in Int64(bitPattern: rng.next()) }
        let passed = absent.filter { f.mayContain($0) }.count
        // Register-blocked, 16 bits and 4 probes per key: about 0.5 % at capacity.
        #expect(passed < 1_500, "\(passed) of 100,000 absent keys passed")
        #expect(f.bytes == f.capacity * KeyPresenceFilter.bitsPerKey / 8)
    }

    @Test func writtenKeysAreFoundBeforeDuringAndAfterTheFilter() throws {
        let c = try TestConsortium()
        c.ledger.state.presenceCheck = 8
        c.ledger.state.presenceMinimumCapacity = 64
        let hospital = c.signer("general-hospital"), clinic = c.signer("valley-clinic")
        let ids = PatientIdentity(consortiumSecret: Array(repeating: 7, count: 32))
        let pids = (0..<400).map { ids.pseudonym(system: "urn:test", identifier: "p\($0)") }
        func register(_ s: TransactionSigner, _ range: Range<Int>) throws -> [JSON] {
            let out = try c.submit(pids[range].map { s.sign("patient.register", ["patient": .string($0), "demographic_hash": .string(String(repeating: "b", count: 64))]) })
            return try out.map { o in try #require(o.receipt).result }
        }
        // Registered before any filter exists; the look-ups of these new patients build it.
        _ = try register(hospital, 0..<100)
        let first = try #require(c.ledger.state.presence)
        // More new patients than the filter was sized for: it is rebuilt larger on the way.
        _ = try register(hospital, 100..<400)
        let second = try #require(c.ledger.state.presence)
        #expect(second.capacity > first.capacity)
        // Every patient, from every stage, is found: a second organisation registering them adds its
        // location to the existing entry (version 2); a patient taken for new would have only one.
        _ = try register(clinic, 0..<400)
        for pid in pids {
            let e = try #require(try c.ledger.state.entry(StateKey.patient(pid)))
            #expect(e.version == 2 && e.value["locations"]?.objectValue?.count == 2)
        }
        #expect(try c.ledger.value(StateKey.patient(ids.pseudonym(system: "urn:test", identifier: "never"))) == nil)

        // A ledger opened afresh starts without a filter, and builds its own from the file.
        let reopened = try Ledger(path: c.dir.appendingPathComponent("ledger.sqlite").path)
        reopened.state.presenceCheck = 4
        #expect(reopened.state.presence == nil)
        // Look-ups of keys it does not cache (records) reach SQLite every time; an eighth of the
        // table's rows of them build the filter.
        guard case .integer(let rows)? = try reopened.db.scalar("SELECT count(*) FROM state_history") else { Issue.record("no row count"); return }
        for n in 0..<(rows / 8 + 1) { #expect(try reopened.value(StateKey.record("absent-\(n)")) == nil) }
        #expect(reopened.state.presence != nil)
        for pid in pids { #expect(try reopened.value(StateKey.patient(pid)) != nil) }

        // New keys are written with the hash their look-up computed (through the filter and through
        // SQLite alike); every row's index key is still the hash of its own key.
        var checked = 0
        for row in try reopened.db.rows("SELECT key, key_hash FROM state_history") {
            #expect(row[1].intValue == StateKey.hash(row[0].textValue ?? ""))
            checked += 1
        }
        #expect(checked > 800)
    }

    /// The key hash a miss hands to the writer is only ever that key's, and only right after the miss.
    @Test func theHashOfAMissGoesOnlyWithThatKey() throws {
        let c = try TestConsortium()
        let store = c.ledger.state
        #expect(try store.entry("patient/PAT-00000000000000000000") == nil)
        #expect(store.hashOfLatestMiss("patient/PAT-00000000000000000000") == StateKey.hash("patient/PAT-00000000000000000000"))
        #expect(store.hashOfLatestMiss("patient/PAT-00000000000000000001") == nil)
        #expect(try store.entry(StateKey.params) != nil) // a hit clears it
        #expect(store.hashOfLatestMiss("patient/PAT-00000000000000000000") == nil)
    }

    /// A look-up or two on a large ledger (a CLI command) does not scan the table for a filter.
    @Test func aFewLookUpsOnALargeTableBuildNoFilter() throws {
        let c = try TestConsortium()
        let ids = PatientIdentity(consortiumSecret: Array(repeating: 7, count: 32))
        let pids = (0..<200).map { ids.pseudonym(system: "urn:test", identifier: "p\($0)") }
        _ = try c.submit(pids.map { c.signer("general-hospital").sign("patient.register", ["patient": .string($0), "demographic_hash": .string(String(repeating: "b", count: 64))]) })
        let reopened = try Ledger(path: c.dir.appendingPathComponent("ledger.sqlite").path)
        reopened.state.presenceCheck = 4
        // Four look-ups are far fewer than an eighth of the rows: the next check moves there.
        for n in 0..<4 { _ = try reopened.value(StateKey.patient(ids.pseudonym(system: "urn:test", identifier: "absent-\(n)"))) }
        #expect(reopened.state.presence == nil)
        #expect(reopened.state.presenceCheck >= 200 / 8)
    }
}
