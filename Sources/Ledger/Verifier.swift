import Foundation
import SQLiteStore

/// Recomputes a ledger from genesis and compares it with what is stored.
public enum LedgerVerifier {
    public struct Report: Sendable {
        public var height: Int64
        public var blocks: Int64
        public var transactions: Int64
        public var stateKeys: Int64
        public var ledgerRoot: Hash32
        /// The first problem found, if any, and the block it is in (-1 when it is not tied to one).
        public var failure: (height: Int64, reason: String)?
        public var ok: Bool { failure == nil }
    }

    /// Verifies the ledger at `path` against `genesis` (the trust anchor: the consortium's file, not
    /// the copy inside the ledger). Replays into a scratch file so the stored file is only read.
    /// `progress` is called after each block.
    public static func verify(path: String, genesis: Genesis, progress: ((Int64, Int64) -> Void)? = nil) throws -> Report {
        let stored = try Database(path: path, flags: [.readOnly, .noMutex])
        var report = Report(height: -1, blocks: 0, transactions: 0, stateKeys: 0, ledgerRoot: Merkle.emptyRoot, failure: nil)
        func fail(_ h: Int64, _ reason: String) -> Report {
            var r = report
            r.failure = (h, reason)
            return r
        }
        guard case .text(let g)? = try stored.scalar("SELECT value FROM meta WHERE key = 'genesis'"),
              let storedGenesis = try? Genesis(json: JSON.parse(g)) else { return fail(0, "no readable genesis in the ledger") }
        guard storedGenesis.hash == genesis.hash else { return fail(0, "stored genesis differs from the consortium genesis file") }
        // Verification only reads: a file from an earlier version is checked in its own layout
        // (it is migrated when a node next opens it for writing).
        guard let schema = try? LedgerSchema.version(of: stored), (1...LedgerSchema.version).contains(schema) else {
            return fail(0, "the ledger file's schema version is missing or newer than this build reads")
        }
        let indexed = schema >= 2 // version 2 stores integer index keys beside the hashes and keys
        let positioned = schema >= 3 // version 3 keys transactions by position; earlier ones index (height, idx)

        let scratchDir = FileManager.default.temporaryDirectory.appendingPathComponent("tally-verify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratchDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratchDir) }
        let replica = try Ledger.create(path: scratchDir.appendingPathComponent("replay.sqlite").path, genesis: genesis)
        try replica.db.execute("PRAGMA synchronous=OFF")

        let maxHeight = (try stored.scalar("SELECT max(height) FROM blocks"))?.intValue ?? -1
        let count = (try stored.scalar("SELECT count(*) FROM blocks"))?.intValue ?? 0
        guard count == maxHeight + 1 else { return fail(-1, "block heights are not contiguous (\(count) blocks, top height \(maxHeight))") }

        let blockStmt = try stored.prepare("SELECT height, hash, header, signature, checkpoint FROM blocks ORDER BY height")
        // Version 3: a block is a range of keys, and every row's key must be its position (checked
        // below), so the range holds exactly the rows that name the block.
        let txStmt = try stored.prepare(positioned
            ? "SELECT hash, bytes, sender, nonce, op, result, hash_key FROM transactions WHERE seq >= ? AND seq < ? ORDER BY seq"
            : "SELECT hash, bytes, sender, nonce, op, result\(indexed ? ", hash_key" : "") FROM transactions WHERE height = ? ORDER BY idx")
        if positioned {
            let misplaced = try stored.scalar("SELECT count(*) FROM transactions WHERE seq != \(LedgerSchema.seqSQL) OR \(LedgerSchema.indexOutOfRangeSQL)")?.intValue ?? 0
            guard misplaced == 0 else { return fail(-1, "\(misplaced) stored transactions are keyed other than by their height and index") }
        }
        while try blockStmt.step() {
            let h = blockStmt.int(0)
            let storedHash = blockStmt.blob(1)
            guard let header = try? BlockHeader(json: JSON.parse(blockStmt.text(2) ?? "")) else { return fail(h, "header does not parse") }
            guard header.height == h else { return fail(h, "header height \(header.height) stored at \(h)") }
            guard header.hash.bytes == storedHash else { return fail(h, "stored block hash does not match its header") }
            if h == 0 {
                guard header == replica.head else { return fail(0, "genesis block does not match the genesis file") }
                report = Report(height: 0, blocks: 1, transactions: 0, stateKeys: 0, ledgerRoot: replica.ledgerRoot, failure: nil)
                continue
            }
            guard let cp = try? Checkpoint(json: JSON.parse(blockStmt.text(4) ?? "")) else { return fail(h, "checkpoint does not parse") }
            let range = LedgerSchema.seqRange(height: h)
            try txStmt.bind(positioned ? [.integer(range.lower), .integer(range.upper)] : [.integer(h)])
            var txs: [Transaction] = []
            var storedResults: [String] = []
            while try txStmt.step() {
                let bytes = txStmt.blob(1)
                guard let tx = try? Transaction(decoding: bytes, maxBytes: Int.max) else { txStmt.reset(); return fail(h, "a stored transaction does not decode") }
                guard tx.hash.bytes == txStmt.blob(0) else { txStmt.reset(); return fail(h, "stored transaction hash does not match its bytes") }
                guard !indexed || txStmt.int(6) == tx.hash.key else { txStmt.reset(); return fail(h, "a transaction's index key does not match its hash") }
                guard tx.body.sender == txStmt.text(2), tx.body.nonce == txStmt.int(3), tx.body.op == txStmt.text(4) else {
                    txStmt.reset(); return fail(h, "transaction index columns do not match its bytes")
                }
                txs.append(tx)
                storedResults.append(txStmt.text(5) ?? "")
            }
            txStmt.reset()
            let block = Block(header: header, signature: blockStmt.blob(3), transactions: txs, checkpoint: cp)
            do { try replica.apply(block) } catch let e as LedgerError {
                if case .invalidBlock(_, let m) = e { return fail(h, m) }
                return fail(h, "\(e)")
            }
            let results = try replica.db.rows("SELECT result FROM transactions WHERE seq >= ? AND seq < ? ORDER BY seq",
                                              [.integer(range.lower), .integer(range.upper)]).map { $0[0].textValue ?? "" }
            guard results == storedResults else { return fail(h, "stored transaction results differ from replay") }
            report.height = h
            report.blocks += 1
            report.transactions += Int64(txs.count)
            progress?(h, maxHeight)
        }
        report.ledgerRoot = replica.ledgerRoot

        // The world state and its history must be exactly what the replay produced, index columns
        // included (a wrong `key_hash` would hide a key from look-ups).
        let stateColumns = indexed ? "key, value, version, height, key_hash, by_key" : "key, value, version, height"
        if let diff = try firstDifference(stored, replica.db, "SELECT \(stateColumns) FROM state_history ORDER BY key, height") {
            return fail(diff.height, "world state row \(diff.key) (written at block \(diff.height)) differs from replay")
        }
        let storedTx = (try stored.scalar("SELECT count(*) FROM transactions"))?.intValue ?? 0
        guard storedTx == report.transactions else { return fail(-1, "\(storedTx - report.transactions) stored transactions belong to no block") }
        report.stateKeys = (try replica.db.scalar("SELECT count(DISTINCT key) FROM state_history"))?.intValue ?? 0
        return report
    }

    /// Walks two ordered result sets in step; returns the first differing row's key and the block
    /// that row names (or -1).
    static func firstDifference(_ a: Database, _ b: Database, _ sql: String) throws -> (key: String, height: Int64)? {
        let s1 = try a.prepare(sql)
        let s2 = try b.prepare(sql)
        while true {
            let r1 = try s1.step()
            let r2 = try s2.step()
            if !r1 && !r2 { return nil }
            if r1 != r2 {
                let s = r1 ? s1 : s2
                return (redact(s.text(0) ?? ""), s.int(3))
            }
            for c in 0..<s1.columnCount where s1.value(c) != s2.value(c) {
                let h = max(s1.value(3).intValue ?? -1, s2.value(3).intValue ?? -1)
                return (redact(s1.text(0) ?? ""), h)
            }
        }
    }

    /// Keys can hold pseudonyms, which are fine in reports, but never more than the key itself.
    static func redact(_ key: String) -> String { String(key.prefix(120)) }
}
