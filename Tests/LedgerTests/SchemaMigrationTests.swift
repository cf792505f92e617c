import Foundation
import Ledger
import SQLiteStore
import Testing

/// A ledger file written by an earlier version of Tally opens, is migrated once, and gives every
/// answer it gave before; a file from a newer version, or one the migration cannot read, is left
/// exactly as it was.
@Suite struct SchemaMigrationTests {
    /// Rewrites a current ledger file into schema version 1's layout, as an earlier build left it:
    /// a unique index on the full transaction hash, the full key in the only state index, no
    /// integer index keys.
    static func rewriteAsVersion1(_ path: String) throws {
        let db = try Database(path: path)
        try db.execute("""
        BEGIN;
        DROP VIEW state;
        DROP INDEX IF EXISTS transactions_by_position;
        ALTER TABLE transactions RENAME TO t2;
        ALTER TABLE state_history RENAME TO s2;
        CREATE TABLE transactions(seq INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, height INTEGER NOT NULL, idx INTEGER NOT NULL,
            sender TEXT NOT NULL, nonce INTEGER NOT NULL, op TEXT NOT NULL, bytes BLOB NOT NULL, result TEXT NOT NULL, UNIQUE(sender, nonce));
        CREATE INDEX transactions_by_position ON transactions(height, idx);
        CREATE TABLE state_history(id INTEGER PRIMARY KEY, key TEXT NOT NULL, height INTEGER NOT NULL, version INTEGER NOT NULL,
            value TEXT NOT NULL, UNIQUE(key, height));
        CREATE VIEW state(key, value, version, height) AS SELECT key, value, version, max(height) FROM state_history GROUP BY key;
        INSERT INTO transactions SELECT row_number() OVER (ORDER BY seq), hash, height, idx, sender, nonce, op, bytes, result FROM t2;
        INSERT INTO state_history SELECT id, key, height, version, value FROM s2;
        DROP TABLE t2;
        DROP TABLE s2;
        UPDATE meta SET value = '1' WHERE key = 'schema';
        COMMIT;
        """)
    }

    /// Rewrites a current ledger file into schema version 2's layout: transactions numbered 1, 2,
    /// 3, … in chain order, with an index on their (height, idx).
    static func rewriteAsVersion2(_ path: String) throws {
        let db = try Database(path: path)
        try db.execute("""
        BEGIN;
        DROP INDEX transactions_by_hash;
        ALTER TABLE transactions RENAME TO t3;
        CREATE TABLE transactions(seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, hash_key INTEGER NOT NULL, height INTEGER NOT NULL, idx INTEGER NOT NULL,
            sender TEXT NOT NULL, nonce INTEGER NOT NULL, op TEXT NOT NULL, bytes BLOB NOT NULL, result TEXT NOT NULL, UNIQUE(sender, nonce));
        CREATE INDEX transactions_by_hash ON transactions(hash_key);
        CREATE INDEX transactions_by_position ON transactions(height, idx);
        INSERT INTO transactions SELECT row_number() OVER (ORDER BY seq), hash, hash_key, height, idx, sender, nonce, op, bytes, result FROM t3;
        DROP TABLE t3;
        UPDATE meta SET value = '2' WHERE key = 'schema';
        COMMIT;
        """)
    }

    static func positionsAreKeys(_ path: String) throws -> Bool {
        try Database(path: path, flags: [.readOnly]).scalar("SELECT count(*) FROM transactions WHERE seq != (height << 24) | idx")?.intValue == 0
    }

    static func indexes(_ path: String) throws -> [String] {
        try Database(path: path, flags: [.readOnly]).rows("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'transactions' ORDER BY name")
            .compactMap { $0[0].textValue }
    }

    /// A migrated ledger takes a new block, and its hash index finds the transaction just committed:
    /// the same one again is a duplicate. Returns that transaction.
    @discardableResult
    static func goesOn(_ ledger: Ledger, _ c: TestConsortium) throws -> Transaction {
        let s = TransactionSigner(chain: c.genesis.chain, identity: "general-hospital", key: c.proposer.signing,
                                  firstNonce: try ledger.nextNonce(for: "general-hospital"))
        let later = s.sign("identity.enroll", ["name": "later", "role": "analyst", "key": .string(SigningKey().publicKey.base64)])
        #expect(try ledger.submit([later], proposer: c.proposer, time: c.now + 10)[0].receipt != nil)
        #expect(try ledger.submit([later], proposer: c.proposer, time: c.now + 11)[0].error == .duplicate)
        return later
    }

    static func schema(_ path: String) throws -> String? {
        try Database(path: path, flags: [.readOnly]).scalar("SELECT value FROM meta WHERE key = 'schema'")?.textValue
    }

    static func columns(_ path: String, _ table: String) throws -> [String] {
        try Database(path: path, flags: [.readOnly]).rows("SELECT name FROM pragma_table_info('\(table)')").compactMap { $0[0].textValue }
    }

    @Test func aVersion1FileIsMigratedAndKeepsEveryAnswer() throws {
        let c = try LedgerVerificationTests().populated()
        let path = c.ledger.path
        let patients = try c.ledger.entries(prefix: "patient/")
        let pid = try #require(patients.first?.value["id"]?.stringValue)
        let audit = try c.ledger.entries(prefix: StateKey.auditPrefix(pid))
        let lastTx = try #require(try c.ledger.block(at: c.ledger.height).transactions.first)
        let receipt = try #require(try c.ledger.receipt(lastTx.hash))
        let record = try #require(try c.ledger.value(StateKey.record("r-1")))
        let pastPatient = try c.ledger.value(StateKey.patient(pid), asOf: 3)
        let (root, head) = (c.ledger.ledgerRoot, c.ledger.head)

        try Self.rewriteAsVersion1(path)
        #expect(try Self.schema(path) == "1")
        #expect(!(try Self.columns(path, "state_history")).contains("key_hash"))
        // Verification only reads, so it checks a version-1 file in its own layout.
        #expect(try LedgerVerifier.verify(path: path, genesis: c.genesis).ok)

        let reopened = try Ledger(path: path)
        #expect(try Self.schema(path) == "3")
        #expect(try Self.positionsAreKeys(path))
        #expect(try Self.columns(path, "transactions").contains("hash_key"))
        #expect(try Self.columns(path, "state_history").contains("key_hash"))
        #expect(reopened.ledgerRoot == root && reopened.head == head)
        #expect(try reopened.entries(prefix: "patient/").map(\.key) == patients.map(\.key)) // a point-only namespace: the full read
        #expect(try reopened.entries(prefix: StateKey.auditPrefix(pid)).map(\.key) == audit.map(\.key)) // the key-ordered index
        #expect(try reopened.receipt(lastTx.hash)?.height == receipt.height)
        #expect(try reopened.value(StateKey.record("r-1")) == record)
        #expect(try reopened.value(StateKey.patient(pid), asOf: 3) == pastPatient)
        // A replay of the migrated file matches it, index keys included, and the chain goes on.
        #expect(try LedgerVerifier.verify(path: path, genesis: c.genesis).ok)
        try Self.goesOn(reopened, c)
        #expect(try LedgerVerifier.verify(path: path, genesis: c.genesis).ok)
        // Opening again finds nothing to migrate.
        #expect(try Ledger(path: path).ledgerRoot == reopened.ledgerRoot)
    }

    @Test func aFileFromANewerVersionIsRefusedAndLeftAlone() throws {
        let c = try LedgerVerificationTests().populated()
        try Database(path: c.ledger.path).execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
        #expect {
            _ = try Ledger(path: c.ledger.path)
        } throws: { "\($0)".contains("schema version 99; this build of tally reads versions up to 3") }
        #expect(try Self.schema(c.ledger.path) == "99")
        #expect(try LedgerVerifier.verify(path: c.ledger.path, genesis: c.genesis).failure?.height == 0)
    }

    @Test func aVersion2FileIsMigratedAndKeepsEveryAnswer() throws {
        let c = try LedgerVerificationTests().populated()
        let path = c.ledger.path
        let blocks = try (1...c.ledger.height).map { try c.ledger.block(at: $0).transactions.map(\.hash) }
        let lastTx = try #require(blocks.last?.last)
        let receipt = try #require(try c.ledger.receipt(lastTx))
        let (root, head, count) = (c.ledger.ledgerRoot, c.ledger.head, c.ledger.transactionCount)

        try Self.rewriteAsVersion2(path)
        #expect(try Self.schema(path) == "2")
        #expect(try !Self.positionsAreKeys(path))
        #expect(try LedgerVerifier.verify(path: path, genesis: c.genesis).ok) // in its own layout, read only
        #expect(try Self.schema(path) == "2")

        let reopened = try Ledger(path: path)
        #expect(try Self.schema(path) == "3")
        #expect(try Self.positionsAreKeys(path))
        #expect(try Self.indexes(path) == ["sqlite_autoindex_transactions_1", "transactions_by_hash"])
        #expect(reopened.ledgerRoot == root && reopened.head == head && reopened.transactionCount == count)
        // Blocks read from the file (not the decoded copies a running ledger keeps), in order.
        #expect(try (1...reopened.height).map { try reopened.block(at: $0).transactions.map(\.hash) } == blocks)
        #expect(try reopened.receipt(lastTx) == receipt)
        #expect(try LedgerVerifier.verify(path: path, genesis: c.genesis).ok)
        let later = try Self.goesOn(reopened, c)
        #expect(try Ledger(path: path).block(at: reopened.height).transactions.map(\.hash) == [later.hash])
        #expect(try LedgerVerifier.verify(path: path, genesis: c.genesis).ok)
    }

    @Test func aMigrationThatCannotReadTheFileChangesNothing() throws {
        let c = try LedgerVerificationTests().populated()
        try Self.rewriteAsVersion1(c.ledger.path)
        // A damaged row the rebuild cannot index: the whole migration rolls back.
        try Database(path: c.ledger.path).execute("UPDATE transactions SET hash = x'00' WHERE seq = (SELECT max(seq) FROM transactions)")
        #expect(throws: LedgerError.self) { _ = try Ledger(path: c.ledger.path) }
        #expect(try Self.schema(c.ledger.path) == "1")
        #expect(try Self.columns(c.ledger.path, "transactions") == ["seq", "hash", "height", "idx", "sender", "nonce", "op", "bytes", "result"])
        #expect(try Database(path: c.ledger.path, flags: [.readOnly]).scalar("SELECT count(*) FROM sqlite_master WHERE name LIKE '%_v1'")?.intValue == 0)

        // A version-2 file with a transaction index no position key can hold: nothing changes either.
        let d = try LedgerVerificationTests().populated()
        try Self.rewriteAsVersion2(d.ledger.path)
        try Database(path: d.ledger.path).execute("UPDATE transactions SET idx = \(1 << 24) WHERE seq = (SELECT max(seq) FROM transactions)")
        #expect(throws: LedgerError.self) { _ = try Ledger(path: d.ledger.path) }
        #expect(try Self.schema(d.ledger.path) == "2")
        #expect(try Self.indexes(d.ledger.path) == ["sqlite_autoindex_transactions_1", "transactions_by_hash", "transactions_by_position"])
        #expect(try Database(path: d.ledger.path, flags: [.readOnly]).scalar("SELECT count(*) FROM sqlite_master WHERE name LIKE '%_v2'")?.intValue == 0)
    }

    /// Records are looked up by key only (left out of the key-ordered index); whether a site has put
    /// any is asked of its transactions instead, by the organisation or any of its identities.
    @Test func whetherAnOrganisationHasPutRecordsCountsItsIdentitiesOnly() throws {
        let c = try TestConsortium(extra: [("general-hospital-2", .hospital, true)])
        let pid = try c.registerPatient(1)
        #expect(try !c.ledger.hasCommitted(op: "record.put", byOrganisation: "general-hospital"))
        let doc = try c.enroll("general-hospital", "dr-a", role: Role.physician)
        let args = try RecordBatch.arguments(chain: c.genesis.chain, keysetID: "ks-1", readers: ["general-hospital": c.orgs["general-hospital"]!.agreement.publicKeyBase64],
                                             writers: ["general-hospital"], items: [RecordBatch.Item(key: "note-1", patient: pid, type: "note", plaintext: Array("x".utf8))])
        try c.expectCommitted(doc.sign("record.put", args))
        #expect(try c.ledger.hasCommitted(op: "record.put", byOrganisation: "general-hospital")) // through general-hospital/dr-a
        #expect(try !c.ledger.hasCommitted(op: "record.put", byOrganisation: "general-hospital-2")) // a name that merely starts alike
        #expect(try !c.ledger.hasCommitted(op: "record.put", byOrganisation: "general"))
        #expect(try c.ledger.hasCommitted(op: "patient.register", byOrganisation: "general-hospital"))
    }
}
