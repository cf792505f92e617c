import Foundation
import SQLiteStore

/// The outcome of one submitted transaction.
public enum Submission: Sendable {
    case committed(TransactionReceipt)
    case refused(TransactionError)

    public var receipt: TransactionReceipt? { if case .committed(let r) = self { return r }; return nil }
    public var error: TransactionError? { if case .refused(let e) = self { return e }; return nil }
}

public struct TransactionReceipt: Sendable, Equatable {
    public let hash: Hash32
    public let height: Int64
    public let index: Int
    public let result: JSON

    public init(hash: Hash32, height: Int64, index: Int, result: JSON) {
        self.hash = hash
        self.height = height
        self.index = index
        self.result = result
    }
}

/// A block built and executed but not yet committed: what a leader proposes, or what a solo node
/// commits at once.
public struct ProposedBlock: Sendable {
    public let block: Block
    public let outcomes: [Submission]
    let writes: StateWritesBox
    let results: [JSON]
}

/// The bounded hand-off between the admission thread and the commit loop of `submitPipelined`:
/// batches in order, at most `depth` waiting.
final class AdmissionQueue: @unchecked Sendable {
    typealias Batch = [Result<Transaction, TransactionError>]
    private let cond = NSCondition()
    private var ready: [Batch] = []
    private var cancelled = false
    private var finished = false
    let depth: Int

    init(depth: Int) { self.depth = depth }

    /// Adds a batch, waiting while `depth` are already waiting; false once cancelled.
    func put(_ batch: Batch) -> Bool {
        cond.lock()
        defer { cond.unlock() }
        while ready.count >= depth && !cancelled { cond.wait() }
        guard !cancelled else { return false }
        ready.append(batch)
        cond.broadcast()
        return true
    }

    /// The next batch, waiting for it (the consumer takes exactly as many as the producer puts).
    func take() -> Batch {
        cond.lock()
        defer { cond.unlock() }
        while ready.isEmpty { cond.wait() }
        cond.broadcast()
        return ready.removeFirst()
    }

    /// Called by the producer as its last act.
    func finish() {
        cond.lock()
        finished = true
        cond.broadcast()
        cond.unlock()
    }

    /// Stops the producer at its next batch and waits until it has finished.
    func cancelAndWait() {
        cond.lock()
        defer { cond.unlock() }
        cancelled = true
        cond.broadcast()
        while !finished { cond.wait() }
        ready.removeAll()
    }
}

/// A transaction's claimed sender and the key it was signed with: what sender resolution checks.
struct SenderKey: Hashable {
    let sender: String
    let signerKey: String
}

/// A sender's nonce, as the block being built tracks them.
struct SenderNonce: Hashable {
    let sender: String
    let nonce: Int64
}

/// Reference wrapper so a proposal can carry its writes without copying them around.
final class StateWritesBox: @unchecked Sendable {
    let writes: StateWrites
    init(_ w: StateWrites) { writes = w }
}

/// A node's copy of the ledger: the hash chain of blocks, their transactions, and the world state
/// they produce, in one SQLite file (WAL mode, synchronous=FULL: a block acknowledged is on disk;
/// a replicated node relaxes this, see `stopSyncingEveryBlock`).
///
/// Thread-safe: all access is serialised by one lock.
public final class Ledger: @unchecked Sendable {
    public let path: String
    public let genesis: Genesis
    public var chain: String { genesis.chain }
    public private(set) var params: ConsortiumParams
    public private(set) var head: BlockHeader

    let db: Database
    /// Copies the write-ahead log into the file on a thread of its own (not inside block commits).
    let checkpointer: BackgroundCheckpointer
    let state: StateStore
    let lock = NSRecursiveLock()
    /// The newest committed blocks, decoded (what `block(at:)` is asked for most: the views and
    /// peers follow the head, and during a bulk load the views run some blocks behind it). Bounded
    /// by count and by transaction bytes; the oldest are dropped first.
    /// Guarded by `recentLock`, not `lock`: followers read the newest blocks and the height while a
    /// block is being built and committed under `lock` (an unfair lock a busy committer re-takes
    /// at once; the views starved behind bulk ingest's commits).
    private let recentLock = NSLock()
    private var committedHeight: Int64 = 0
    private var recentBlocks: [Int64: (block: Block, bytes: Int)] = [:]
    private var recentOldest: Int64 = 1
    private var recentBytes = 0
    /// At most this many blocks and transaction bytes are kept decoded (a test lowers them).
    var recentBlockLimit = (count: 256, bytes: 48 << 20)
    private var blockLeaves: [Hash32] = []
    private var accumulator = MerkleAccumulator()
    /// Senders resolved against committed state, by sender and signing key (a bulk load resolves
    /// the same sender thousands of times). Emptied whenever a member or identity entry is written;
    /// while the block being built has written one, nothing new is kept (that block may never commit).
    private var resolvedSenders: [SenderKey: Identity] = [:]
    private var blockWroteIdentities = false
    /// The highest committed nonce of senders looked up so far: a nonce above it cannot be a replay,
    /// so the index is not probed. Filled lazily; emptied when it outgrows its bound.
    private var highestNonce: [String: Int64] = [:]
    private let cacheBound = 100_000
    private let maxNonceOf: Statement
    private let insertBlock: Statement
    private let insertTx: Statement
    private let txExists: Statement
    private let nonceUsed: Statement

    // MARK: opening

    /// Creates a new ledger file from a genesis document.
    public static func create(path: String, genesis: Genesis) throws -> Ledger {
        if FileManager.default.fileExists(atPath: path) { throw LedgerError.storage("a ledger already exists at \(path)") }
        let db = try Database(path: path)
        try configure(db)
        try db.execute(LedgerSchema.sql)
        let writes = Contracts.genesisWrites(genesis)
        let header = genesisHeader(genesis, stateRoot: writes.digest())
        try db.transaction {
            try db.prepare("INSERT INTO meta(key, value) VALUES (?, ?)").run([.text("schema"), .text(String(LedgerSchema.version))])
            try db.prepare("INSERT INTO meta(key, value) VALUES (?, ?)").run([.text("genesis"), .text(genesis.json.canonicalString)])
            let cp = Checkpoint(chain: genesis.chain, height: 0, ledgerRoot: Merkle.leafHash(header.hash.bytes), signer: "genesis", signature: [])
            try db.prepare("INSERT INTO blocks(height, hash, header, signature, checkpoint) VALUES (0, ?, ?, ?, ?)")
                .run([.blob(header.hash.bytes), .text(header.json.canonicalString), .blob([]), .text(cp.json.canonicalString)])
            try StateStore(db: db).write(writes)
        }
        return try Ledger(database: db, path: path)
    }

    /// Opens an existing ledger file.
    public convenience init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw LedgerError.notFound("no ledger at \(path)") }
        let db = try Database(path: path)
        try Ledger.configure(db)
        try LedgerSchema.migrate(db)
        try self.init(database: db, path: path)
    }

    /// The page size of ledger files created from now on. SQLite writes each page of a commit to
    /// the write-ahead log with two system calls, and the hash-keyed indexes spread a block's
    /// inserts over many pages; with 16 KiB pages instead of SQLite's 4 KiB default, a bulk ingest
    /// (ledger and views together) made 83,000 writes and 23,000 reads instead of 232,000 and
    /// 68,000 (`strace -c`, `Docs/PERFORMANCE.md`). A file keeps the page size it was created with;
    /// older 4 KiB files work as before (`Docs/OPERATIONS.md` says how to convert one). The views
    /// keep 4 KiB pages (see `ViewStore`).
    public static let filePageSize = 16384

    static func configure(_ db: Database) throws {
        db.setBusyTimeout(milliseconds: 5000)
        // The page size only takes effect on a new, empty file (before WAL mode is set).
        // 64 MiB page cache (the default is 2 MiB): state and transaction keys are hashes, so writes land all over the file.
        try db.execute("PRAGMA page_size=\(filePageSize); PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;")
    }

    static func genesisHeader(_ g: Genesis, stateRoot: Hash32) -> BlockHeader {
        BlockHeader(chain: g.chain, height: 0, previous: .zero, time: g.time, proposer: "genesis",
                    txRoot: Merkle.root(leaves: [Merkle.leafHash(g.hash.bytes)]), txCount: 1, stateRoot: stateRoot)
    }

    private init(database db: Database, path: String) throws {
        self.db = db
        self.path = path
        guard case .text(let g)? = try db.scalar("SELECT value FROM meta WHERE key = 'genesis'") else {
            throw LedgerError.corrupt(height: 0, "no genesis in ledger file")
        }
        genesis = try Genesis(json: JSON.parse(g))
        state = try StateStore(db: db)
        checkpointer = try BackgroundCheckpointer(writer: db)
        params = ConsortiumParams(json: try state.entry(StateKey.params)?.value)
        insertBlock = try db.prepare("INSERT INTO blocks(height, hash, header, signature, checkpoint) VALUES (?, ?, ?, ?, ?)")
        insertTx = try db.prepare("INSERT INTO transactions(seq, hash, hash_key, height, idx, sender, nonce, op, bytes, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        txExists = try db.prepare("SELECT 1 FROM transactions WHERE hash_key = ? AND hash = ?")
        nonceUsed = try db.prepare("SELECT 1 FROM transactions WHERE sender = ? AND nonce = ?")
        maxNonceOf = try db.prepare("SELECT max(nonce) FROM transactions WHERE sender = ?")
        let stmt = try db.prepare("SELECT hash, header FROM blocks ORDER BY height")
        var last: BlockHeader?
        while try stmt.step() {
            let h = Hash32(stmt.blob(0))
            blockLeaves.append(Merkle.leafHash(h.bytes))
            accumulator.append(blockLeaves.last!)
            last = try BlockHeader(json: JSON.parse(stmt.text(1) ?? ""))
        }
        guard let last else { throw LedgerError.corrupt(height: 0, "no blocks") }
        head = last
        committedHeight = last.height
    }

    /// The SQL that creates a ledger file's tables (the current schema version), for tools that
    /// measure against the same layout (the benchmark's raw-insert ceiling).
    public static var fileSchemaSQL: String { LedgerSchema.sql }

    /// A transaction's key in that layout's `transactions` table (`height << 24 | index`), for the
    /// same tools.
    public static func transactionKey(height: Int64, index: Int) -> Int64 { LedgerSchema.seq(height: height, index: index) }

    /// The committed height, readable without waiting for a block being built or committed.
    public var height: Int64 { recentLock.withLock { committedHeight } }

    /// Whether each block's commit waits for the disk (the default, and what a solo node needs).
    public private(set) var syncsEveryBlock = true

    /// For a replicated node, whose Raft log already holds every committed block durably: block
    /// commits stop waiting for the disk (SQLite `synchronous=NORMAL` in WAL mode: still atomic, and
    /// still durable if the process is killed — only an operating-system crash or power loss can drop
    /// the newest blocks, which the node then re-applies from its Raft log). The node must call
    /// `syncToDisk()` before it discards Raft entries.
    public func stopSyncingEveryBlock() throws {
        try lock.withLock {
            try db.execute("PRAGMA synchronous=NORMAL")
            syncsEveryBlock = false
        }
    }

    /// Makes every block committed so far durable (an fsync of the write-ahead log and its folder).
    public func syncToDisk() throws {
        try lock.withLock {
            for file in [path + "-wal", (path as NSString).deletingLastPathComponent] {
                let fd = open(file.isEmpty ? "." : file, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { continue } // no WAL yet: every commit is already in the main file
                defer { close(fd) }
                guard fsync(fd) == 0 else { throw LedgerError.storage("cannot sync \(file): \(String(cString: strerror(errno)))") }
            }
        }
    }

    // MARK: proposing and committing

    /// Decodes, verifies and executes `txs` into a block on top of the current head, signed by
    /// `proposer`. Refused transactions are left out; each gets its reason. Nothing is written.
    public func propose(_ txs: [Transaction], proposer: OrganisationKeys, time: Int64) throws -> ProposedBlock {
        // Signatures are checked before taking the lock: readers are not held up by the slow part.
        let sigOK = Ledger.verifySignatures(txs)
        // One read transaction for the whole block: each state, nonce or sender look-up would
        // otherwise take and release SQLite's file and WAL-index locks (system calls) on its own.
        return try lock.withLock { try db.readTransaction {
            let blockTime = max(time, head.time)
            let height = head.height + 1
            var writes = StateWrites()
            var included: [Transaction] = []
            var results: [JSON] = []
            var outcomes: [Submission] = []
            writes.entries.reserveCapacity(txs.count)
            included.reserveCapacity(txs.count)
            results.reserveCapacity(txs.count)
            outcomes.reserveCapacity(txs.count)
            var hashesInBlock = Set<Hash32>(minimumCapacity: txs.count)
            var noncesInBlock = Set<SenderNonce>(minimumCapacity: txs.count)
            blockWroteIdentities = false
            let maxTxs = min(Int(params.maxBlockTransactions), LedgerSchema.maxBlockTransactions - 1)
            for (i, tx) in txs.enumerated() {
                do throws(TransactionError) {
                    guard included.count < maxTxs else { throw .rejected("block is full; resubmit") }
                    try checkEnvelope(tx, signatureOK: sigOK[i])
                    // A committed copy would have used this sender's nonce, so the (indexed) nonce check
                    // below finds replays; the hash lookup only runs then, to name the duplicate.
                    guard hashesInBlock.insert(tx.hash).inserted else { throw .duplicate }
                    let nonceKey = SenderNonce(sender: tx.body.sender, nonce: tx.body.nonce)
                    let (result, txWrites) = try execute(tx, index: included.count, height: height, time: blockTime, block: writes) { () throws(TransactionError) in
                        guard !noncesInBlock.contains(nonceKey), try !isNonceUsed(tx.body.sender, tx.body.nonce) else {
                            if try isCommitted(tx.hash) { throw .duplicate }
                            throw .replayedNonce(sender: tx.body.sender, nonce: tx.body.nonce)
                        }
                    }
                    noteWrites(txWrites)
                    for (k, v) in txWrites.entries { writes.entries[k] = v }
                    noncesInBlock.insert(nonceKey)
                    outcomes.append(.committed(TransactionReceipt(hash: tx.hash, height: height, index: included.count, result: result)))
                    included.append(tx)
                    results.append(result)
                } catch {
                    outcomes.append(.refused(error))
                }
            }
            let header = BlockHeader(chain: chain, height: height, previous: head.hash, time: blockTime, proposer: proposer.org,
                                     txRoot: Block.txRoot(included), txCount: Int64(included.count), stateRoot: writes.digest())
            let signature = proposer.signing.sign(domain: SigningDomain.block, header.hash.bytes)
            var acc = accumulator
            acc.append(Merkle.leafHash(header.hash.bytes))
            let cp = Checkpoint(chain: chain, height: height, ledgerRoot: acc.root, signer: proposer.org, key: proposer.signing)
            let block = Block(header: header, signature: signature, transactions: included, checkpoint: cp)
            return ProposedBlock(block: block, outcomes: outcomes, writes: StateWritesBox(writes), results: results)
        } }
    }

    /// Commits a block this node proposed (and executed) itself.
    public func commit(_ p: ProposedBlock) throws {
        try lock.withLock {
            guard p.block.header.previous == head.hash, p.block.header.height == head.height + 1 else {
                throw LedgerError.invalidBlock(height: p.block.header.height, "does not extend the current head")
            }
            try write(p.block, writes: p.writes.writes, results: p.results)
        }
    }

    /// Solo mode: proposes and commits one block of `txs` at once. Returns one outcome per input.
    @discardableResult
    public func submit(_ txs: [Transaction], proposer: OrganisationKeys, time: Int64) throws -> [Submission] {
        try lock.withLock {
            let p = try propose(txs, proposer: proposer, time: time)
            if !p.block.transactions.isEmpty { try commit(p) }
            return p.outcomes
        }
    }

    /// Decodes wire bytes and submits what decodes; malformed or oversized input gets its reason.
    public func submit(bytes: [[UInt8]], proposer: OrganisationKeys, time: Int64) throws -> [Submission] {
        try submit(admitted: Transaction.admit(bytes, maxBytes: Int(params.maxTransactionBytes)), proposer: proposer, time: time)
    }

    /// Submits the output of `Transaction.admit`, keeping one outcome per input in order.
    public func submit(admitted: [Result<Transaction, TransactionError>], proposer: OrganisationKeys, time: Int64) throws -> [Submission] {
        var decoded: [Transaction] = []
        var slots: [Submission?] = []
        for a in admitted {
            switch a {
            case .success(let tx): decoded.append(tx); slots.append(nil)
            case .failure(let e): slots.append(.refused(e))
            }
        }
        var outcomes = try submit(decoded, proposer: proposer, time: time).makeIterator()
        return slots.map { $0 ?? outcomes.next()! }
    }

    /// How many admitted batches `submitPipelined` may hold ahead of the block being executed.
    static let admissionDepth = 2

    /// Commits a stream of wire-format batches, one block each, in order. Admission (decoding and
    /// Ed25519 verification, on all cores) runs on its own thread up to `admissionDepth` batches ahead
    /// of the block being executed and committed, so the cores keep verifying while a block waits for
    /// the disk and while the next block is executed. Returns outcomes per batch. A storage error stops
    /// admission and is thrown; the batches before it stay committed.
    public func submitPipelined(_ batches: [[[UInt8]]], proposer: OrganisationKeys, time: () -> Int64) throws -> [[Submission]] {
        guard !batches.isEmpty else { return [] }
        let maxBytes = Int(params.maxTransactionBytes)
        let queue = AdmissionQueue(depth: Ledger.admissionDepth)
        Workers.shared.run {
            for batch in batches {
                guard queue.put(Transaction.admit(batch, maxBytes: maxBytes)) else { break }
            }
            queue.finish()
        }
        // Whatever happens here, admission is stopped and has let go of its thread before returning.
        defer { queue.cancelAndWait() }
        var results: [[Submission]] = []
        results.reserveCapacity(batches.count)
        for _ in batches.indices {
            results.append(try submit(admitted: queue.take(), proposer: proposer, time: time()))
        }
        return results
    }

    /// Validates and applies a block proposed elsewhere (a replica, or verification replay):
    /// checks the chain link, the proposer's signature, every transaction, the roots and the checkpoint.
    public func apply(_ block: Block) throws {
        let sigOK = Ledger.verifySignatures(block.transactions)
        try lock.withLock {
            let h = block.header
            let fail = { (m: String) in LedgerError.invalidBlock(height: h.height, m) }
            guard h.chain == chain else { throw fail("belongs to chain \(h.chain)") }
            guard h.height == head.height + 1 else { throw fail("expected height \(head.height + 1)") }
            guard h.previous == head.hash else { throw fail("previous hash does not match block \(head.height)") }
            guard h.time >= head.time else { throw fail("time goes backwards") }
            guard let m = try state.entry(StateKey.member(h.proposer))?.value, m["status"]?.stringValue == "active",
                  m["voting"]?.boolValue == true,
                  let pk = m["signing_key"]?.stringValue.flatMap(PublicSigningKey.init(base64:))
            else { throw fail("proposer \(h.proposer) is not an active voting member") }
            guard block.headerSignatureIsValid(pk) else { throw fail("proposer signature does not verify") }
            guard block.transactions.count < LedgerSchema.maxBlockTransactions else { throw fail("holds more transactions than a block may") }
            guard h.txCount == Int64(block.transactions.count), Block.txRoot(block.transactions) == h.txRoot else {
                throw fail("transaction root does not match its transactions")
            }
            var writes = StateWrites()
            var results: [JSON] = []
            var nonces = Set<SenderNonce>()
            blockWroteIdentities = false
            try db.readTransaction { for (i, tx) in block.transactions.enumerated() {
                do throws(TransactionError) {
                    try checkEnvelope(tx, signatureOK: sigOK[i])
                    let nk = SenderNonce(sender: tx.body.sender, nonce: tx.body.nonce)
                    let (result, w) = try execute(tx, index: i, height: h.height, time: h.time, block: writes) { () throws(TransactionError) in
                        guard nonces.insert(nk).inserted, try !isNonceUsed(tx.body.sender, tx.body.nonce) else {
                            if try isCommitted(tx.hash) { throw .duplicate }
                            throw .replayedNonce(sender: tx.body.sender, nonce: tx.body.nonce)
                        }
                    }
                    noteWrites(w)
                    for (k, v) in w.entries { writes.entries[k] = v }
                    results.append(result)
                } catch {
                    throw fail("transaction \(i) (\(tx.hash.hex.prefix(16))) refused: \(error)")
                }
            } }
            guard writes.digest() == h.stateRoot else { throw fail("state root does not match the replayed state writes") }
            var acc = accumulator
            acc.append(Merkle.leafHash(h.hash.bytes))
            let cp = block.checkpoint
            guard cp.chain == chain, cp.height == h.height, cp.ledgerRoot == acc.root else { throw fail("checkpoint root is wrong") }
            guard cp.signer == h.proposer, cp.isValid(signedBy: pk) else { throw fail("checkpoint signature does not verify") }
            try write(block, writes: writes, results: results)
        }
    }

    private func write(_ block: Block, writes: StateWrites, results: [JSON]) throws {
        let h = block.header
        do {
            try db.transaction {
                try insertBlock.run([.integer(h.height), .blob(h.hash.bytes), .text(h.json.canonicalString), .blob(block.signature),
                                     .text(block.checkpoint.json.canonicalString)])
                for (i, tx) in block.transactions.enumerated() {
                    // The row's text and blobs are bound where they lie (`bind(borrowing:)`), not copied.
                    let result = results[i].canonicalBytes
                    var sender = tx.body.sender, op = tx.body.op
                    try tx.bytes.withUnsafeBytes { bytes in try tx.hash.bytes.withUnsafeBytes { hash in
                        try result.withUnsafeBytes { result in try sender.withUTF8 { sender in try op.withUTF8 { op in
                            try insertTx.run { s in
                                try s.bind(.integer(LedgerSchema.seq(height: h.height, index: i)), at: 1)
                                try s.bind(borrowing: hash, at: 2)
                                try s.bind(.integer(tx.hash.key), at: 3)
                                try s.bind(.integer(h.height), at: 4)
                                try s.bind(.integer(Int64(i)), at: 5)
                                try s.bind(borrowing: UnsafeRawBufferPointer(sender), at: 6, asText: true)
                                try s.bind(.integer(tx.body.nonce), at: 7)
                                try s.bind(borrowing: UnsafeRawBufferPointer(op), at: 8, asText: true)
                                try s.bind(borrowing: bytes, at: 9)
                                try s.bind(borrowing: result, at: 10, asText: true)
                            }
                        } } }
                    } }
                }
                try state.write(writes)
            }
        } catch {
            // The SQLite transaction rolled back; cached reads may still be right, but trust nothing.
            state.forgetCache()
            resolvedSenders.removeAll()
            highestNonce.removeAll()
            throw LedgerError.storage("block \(h.height) not committed: \(error)")
        }
        state.didCommit(writes)
        if Ledger.changesIdentities(writes) { resolvedSenders.removeAll() }
        // A block is mostly runs of one sender's transactions: one cache look-up per run.
        var run: (sender: String, nonce: Int64)?
        func endRun() {
            if let r = run, let n = highestNonce[r.sender], r.nonce > n { highestNonce[r.sender] = r.nonce }
        }
        for tx in block.transactions {
            if run?.sender == tx.body.sender {
                run!.nonce = max(run!.nonce, tx.body.nonce)
            } else {
                endRun()
                run = (tx.body.sender, tx.body.nonce)
            }
        }
        endRun()
        head = h
        // The views and peers read the newest blocks right after they commit: keep them decoded.
        let size = block.transactions.reduce(0) { $0 + $1.bytes.count }
        recentLock.withLock {
            committedHeight = h.height
            if recentBlocks.isEmpty { recentOldest = h.height }
            if h.height - recentOldest > Int64(recentBlockLimit.count) { // a jump (a snapshot installed): start afresh
                recentBlocks.removeAll()
                recentBytes = 0
                recentOldest = h.height
            }
            recentBlocks[h.height] = (block, size)
            recentBytes += size
            while recentOldest < h.height && (recentBlocks.count > recentBlockLimit.count || recentBytes > recentBlockLimit.bytes) {
                if let old = recentBlocks.removeValue(forKey: recentOldest) { recentBytes -= old.bytes }
                recentOldest += 1
            }
        }
        let leaf = Merkle.leafHash(h.hash.bytes)
        blockLeaves.append(leaf)
        accumulator.append(leaf)
        if let p = writes.entries[StateKey.params] { params = ConsortiumParams(json: p.value) }
    }

    // MARK: execution

    private func checkEnvelope(_ tx: Transaction, signatureOK: Bool) throws(TransactionError) {
        guard tx.bytes.count <= params.maxTransactionBytes else { throw .oversized(size: tx.bytes.count, limit: Int(params.maxTransactionBytes)) }
        guard tx.body.chain == chain else { throw .wrongChain(tx.body.chain) }
        guard signatureOK else { throw .badSignature }
    }

    private func isCommitted(_ h: Hash32) throws(TransactionError) -> Bool {
        do {
            try txExists.bind([.integer(h.key), .blob(h.bytes)])
            defer { txExists.reset() }
            return try txExists.step()
        } catch { throw .rejected("state unreadable") }
    }

    private func isNonceUsed(_ sender: String, _ nonce: Int64) throws(TransactionError) -> Bool {
        if let highest = try highestCommittedNonce(sender), nonce > highest { return false }
        do {
            try nonceUsed.bind([.text(sender), .integer(nonce)])
            defer { nonceUsed.reset() }
            return try nonceUsed.step()
        } catch { throw .rejected("state unreadable") }
    }

    /// The highest nonce `sender` has used on the committed ledger (nil: none yet).
    private func highestCommittedNonce(_ sender: String) throws(TransactionError) -> Int64? {
        if let n = highestNonce[sender] { return n }
        do {
            try maxNonceOf.bind([.text(sender)])
            defer { maxNonceOf.reset() }
            guard try maxNonceOf.step(), case .integer(let n) = maxNonceOf.value(0) else { return nil }
            if highestNonce.count >= cacheBound { highestNonce.removeAll(keepingCapacity: true) }
            highestNonce[sender] = n
            return n
        } catch { throw .rejected("state unreadable") }
    }

    /// Whether `writes` touch what sender resolution reads (member and identity entries).
    private static func changesIdentities(_ writes: StateWrites) -> Bool {
        writes.entries.keys.contains { key in StateKey.senderNamespaces.contains { key.hasPrefix($0) } }
    }

    /// Called with each executed transaction's writes while a block is built or replayed.
    private func noteWrites(_ writes: StateWrites) {
        if Ledger.changesIdentities(writes) {
            resolvedSenders.removeAll()
            blockWroteIdentities = true
        }
    }

    /// Resolves the sender (key checked against its registration), then checks the nonce, then runs
    /// the contract: a forged transaction is reported as forged, not as a replay.
    private func execute(_ tx: Transaction, index: Int, height: Int64, time: Int64, block: StateWrites,
                         checkNonce: () throws(TransactionError) -> Void) throws(TransactionError) -> (JSON, StateWrites) {
        let cacheKey = SenderKey(sender: tx.body.sender, signerKey: tx.body.signerKey)
        let sender: Identity
        if let known = resolvedSenders[cacheKey] {
            sender = known
        } else {
            sender = try Contracts.resolveSender(tx) { key in
                if let e = block.entries[key] { return e }
                return try state.entry(key)
            }
            if !blockWroteIdentities {
                if resolvedSenders.count >= cacheBound { resolvedSenders.removeAll(keepingCapacity: true) }
                resolvedSenders[cacheKey] = sender
            }
        }
        try checkNonce()
        let ctx = ExecutionContext(height: height, time: time, txHash: tx.hash, txIndex: index, sender: sender, params: params, base: state, block: block)
        let result = try Contracts.execute(tx, ctx)
        return (result, ctx.writes)
    }

    /// Ed25519 verification of many transactions across all cores (skipping those admitted already).
    static func verifySignatures(_ txs: [Transaction]) -> [Bool] {
        // A closure, not a key path: `allSatisfy(\.signatureChecked)` cost about 0.3 µs per
        // transaction in a solo-ledger profile.
        if !txs.contains(where: { !$0.signatureChecked }) { return [Bool](repeating: true, count: txs.count) }
        return parallelMap(txs.count, piecesPerCore: Transaction.checkPiecesPerCore) { i in txs[i].signatureChecked || txs[i].verifySignature() }
    }

    // MARK: reading

    /// The current value of a state key.
    public func value(_ key: String) throws -> JSON? {
        try lock.withLock { try state.entry(key)?.value }
    }

    /// The current values of many keys under one acquisition of the lock (absent keys are left
    /// out), so a bulk reader does not queue behind a block commit once per key; and in one read
    /// transaction, so the file lock is taken once (a lock per query was most of a bulk look-up).
    public func values(_ keys: [String]) throws -> [String: JSON] {
        try lock.withLock {
            try db.readTransaction {
                var out: [String: JSON] = [:]
                for k in keys { if let v = try state.entry(k)?.value { out[k] = v } }
                return out
            }
        }
    }

    /// The value of a state key as it was after block `height`.
    public func value(_ key: String, asOf height: Int64) throws -> JSON? {
        try lock.withLock { try state.entry(key, asOf: height)?.value }
    }

    public func entries(prefix: String, limit: Int = .max) throws -> [(key: String, value: JSON)] {
        try lock.withLock { try state.scan(prefix: prefix, limit: limit).map { ($0.0, $0.1.value) } }
    }

    /// Whether the organisation `org`, or one of its identities (`org/name`), has committed a
    /// transaction of `op`. One index range per sender form; it stops at the first match.
    public func hasCommitted(op: String, byOrganisation org: String) throws -> Bool {
        try lock.withLock {
            try db.scalar("SELECT 1 FROM transactions WHERE (sender = ?1 OR (sender >= ?2 AND sender < ?3)) AND op = ?4 LIMIT 1",
                          [.text(org), .text(org + "/"), .text(org + "0"), .text(op)]) != nil // "0" follows "/"
        }
    }

    /// The next unused nonce for `sender` (highest used + 1).
    public func nextNonce(for sender: String) throws -> Int64 {
        try lock.withLock {
            guard case .integer(let n)? = try db.scalar("SELECT max(nonce) FROM transactions WHERE sender = ?", [.text(sender)]) else { return 0 }
            return n + 1
        }
    }

    /// The heights `block(at:)` currently answers from memory, oldest first.
    var decodedBlockHeights: [Int64] { recentLock.withLock { recentBlocks.keys.sorted() } }

    public func block(at height: Int64) throws -> Block {
        if let b = recentLock.withLock({ recentBlocks[height]?.block }) { return b }
        return try lock.withLock {
            let rows = try db.rows("SELECT header, signature, checkpoint FROM blocks WHERE height = ?", [.integer(height)])
            guard let r = rows.first, let header = r[0].textValue, let cp = r[2].textValue else { throw LedgerError.notFound("block \(height)") }
            let range = LedgerSchema.seqRange(height: height)
            let txRows = try db.rows("SELECT bytes FROM transactions WHERE seq >= ? AND seq < ? ORDER BY seq", [.integer(range.lower), .integer(range.upper)])
            let txs = try txRows.map { row -> Transaction in
                do { return try Transaction(decoding: row[0].blobValue ?? [], maxBytes: Int.max) } catch {
                    throw LedgerError.corrupt(height: height, "stored transaction does not decode: \(error)")
                }
            }
            return Block(header: try BlockHeader(json: JSON.parse(header)), signature: r[1].blobValue ?? [], transactions: txs,
                         checkpoint: try Checkpoint(json: JSON.parse(cp)))
        }
    }

    /// Where a committed transaction sits, and its result.
    public func receipt(_ hash: Hash32) throws -> TransactionReceipt? {
        try lock.withLock {
            let rows = try db.rows("SELECT height, idx, result FROM transactions WHERE hash_key = ? AND hash = ?", [.integer(hash.key), .blob(hash.bytes)])
            guard let r = rows.first else { return nil }
            return TransactionReceipt(hash: hash, height: r[0].intValue ?? -1, index: Int(r[1].intValue ?? -1), result: try JSON.parse(r[2].textValue ?? "null"))
        }
    }

    public var transactionCount: Int64 {
        lock.withLock { (try? db.scalar("SELECT count(*) FROM transactions"))??.intValue ?? 0 }
    }

    /// Leaf hashes of the block tree (one per block, genesis first).
    var blockTreeLeaves: [Hash32] { lock.withLock { blockLeaves } }
    public var ledgerRoot: Hash32 { lock.withLock { accumulator.root } }
}

extension NSRecursiveLock {
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
