import CSQLite
import Foundation
import SQLiteStore
import Testing

@Suite struct DatabaseTests {
    @Test func bindsAndReadsEveryValueKind() throws {
        let db = try Database.inMemory()
        try db.execute("CREATE TABLE t(i INTEGER, r REAL, s TEXT, b BLOB, n)")
        try db.prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?)").run([.integer(-7), .real(2.5), .text("héllo"), .blob([0, 1, 255]), .null])
        let rows = try db.rows("SELECT i, r, s, b, n FROM t")
        #expect(rows == [[.integer(-7), .real(2.5), .text("héllo"), .blob([0, 1, 255]), .null]])
        // An empty blob is a zero-length blob, not NULL.
        try db.prepare("INSERT INTO t(b) VALUES (?)").run([.blob([])])
        #expect(try db.scalar("SELECT typeof(b) FROM t WHERE i IS NULL") == .text("blob"))
    }

    @Test func reusedStatementsBindTextByLengthAndLeaveNoStaleValues() throws {
        let db = try Database.inMemory()
        try db.execute("CREATE TABLE t(k INTEGER, a, b)")
        let insert = try db.prepare("INSERT INTO t VALUES (?, ?, ?)")
        try insert.run([.integer(1), .text("first"), .text("x")])
        try insert.run([.integer(2), .text("")])                 // fewer values: b is NULL, not "x"
        try insert.run { s in                                     // bytes as text, every parameter bound
            try s.bind(.integer(3), at: 1)
            try s.bind(utf8: Array("é{\"a\":1}".utf8), at: 2)
            try s.bind(utf8: [], at: 3)
        }
        let rows = try db.rows("SELECT a, typeof(a), b, typeof(b) FROM t ORDER BY k")
        #expect(rows == [[.text("first"), .text("text"), .text("x"), .text("text")],
                         [.text(""), .text("text"), .null, .text("null")],
                         [.text("é{\"a\":1}"), .text("text"), .text(""), .text("text")]])
    }

    @Test func borrowedBytesAreStoredAndUnboundWhenTheRunEnds() throws {
        let db = try Database.inMemory()
        try db.execute("CREATE TABLE t(k INTEGER, a TEXT, b BLOB)")
        let insert = try db.prepare("INSERT INTO t VALUES (?, ?, ?)")
        var text = "é borrowed, not copied"
        let blob: [UInt8] = [0, 1, 2, 255]
        try text.withUTF8 { a in try blob.withUnsafeBytes { b in
            try insert.run { s in
                try s.bind(.integer(1), at: 1)
                try s.bind(borrowing: UnsafeRawBufferPointer(a), at: 2, asText: true)
                try s.bind(borrowing: b, at: 3)
            }
        } }
        // The run left nothing pointing at those bytes: stepping again without binding them stores NULL.
        try insert.run { s in try s.bind(.integer(2), at: 1) }
        try [UInt8]().withUnsafeBytes { empty in
            try insert.run { s in
                try s.bind(.integer(3), at: 1)
                try s.bind(borrowing: empty, at: 2, asText: true)
                try s.bind(borrowing: empty, at: 3)
            }
        }
        let rows = try db.rows("SELECT a, b, typeof(a), typeof(b) FROM t ORDER BY k")
        #expect(rows == [[.text("é borrowed, not copied"), .blob([0, 1, 2, 255]), .text("text"), .text("blob")],
                         [.null, .null, .text("null"), .text("null")],
                         [.text(""), .blob([]), .text("text"), .text("blob")]])
    }

    @Test func errorsCarrySQLButNeverBoundValues() throws {
        let db = try Database.inMemory()
        try db.execute("CREATE TABLE p(id TEXT PRIMARY KEY)")
        let insert = try db.prepare("INSERT INTO p VALUES (?)")
        try insert.run([.text("SECRET-MRN-123")])
        do {
            try insert.run([.text("SECRET-MRN-123")])
            Issue.record("duplicate insert should fail")
        } catch let e as DatabaseError {
            #expect(e.code & 0xFF == SQLITE_CONSTRAINT)
            #expect(e.sql == "INSERT INTO p VALUES (?)")
            #expect(!e.description.contains("SECRET"))
        }
    }

    @Test func transactionRollsBackWhenTheBodyThrows() throws {
        let db = try Database.inMemory()
        try db.execute("CREATE TABLE t(x)")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try db.transaction {
                try db.execute("INSERT INTO t VALUES (1)")
                throw Boom()
            }
        }
        #expect(try db.scalar("SELECT count(*) FROM t") == .integer(0))
        try db.transaction { try db.execute("INSERT INTO t VALUES (2)") }
        #expect(try db.scalar("SELECT count(*) FROM t") == .integer(1))
    }

    @Test func extensionLoadingAndTrustedSchemaAreOffByDefault() throws {
        let db = try Database.inMemory()
        #expect(try db.config(SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, -1) == 0)
        #expect(try db.config(SQLITE_DBCONFIG_TRUSTED_SCHEMA, -1) == 0)
    }

    @Test func readOnlyConnectionsCannotWrite() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ro-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Database(path: path).execute("CREATE TABLE t(x)")
        let ro = try Database(path: path, flags: [.readOnly])
        #expect(throws: DatabaseError.self) { try ro.execute("INSERT INTO t VALUES (1)") }
    }
}
