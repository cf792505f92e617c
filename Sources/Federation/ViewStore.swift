import Crypto
import Foundation
import Ledger
import SQLiteStore

/// The member's decrypted views: typed SQLite tables materialised from the ledger records this
/// organisation is a reader of. Updated block by block (work proportional to the block's records);
/// `rebuild` recomputes them from genesis and must give identical tables.
///
/// The file lives in the node's directory: it is the hospital's own data on its own disk, never sent
/// anywhere. Queries read it only through the sandbox, via `Member`.
public final class ViewStore {
    public let path: String
    public let org: String
    let chain: String
    let agreementKey: AgreementKey
    let db: Database
    /// Copies the write-ahead log into the file on a thread of its own (not inside view updates).
    let checkpointer: BackgroundCheckpointer
    /// Data keys this organisation can unwrap, by keyset id (nil: not a reader).
    private var dataKeys: [String: SymmetricKey?] = [:]
    /// Each patient's region (from their first patient row by record key), as of `regionsHeight`:
    /// carried from one group of blocks to the next, since a bulk load's encounters arrive in many
    /// groups and each looked its patients up again. Kept only while this store is the one applying
    /// blocks (a height it did not write empties it) and bounded like `dataKeys`.
    private var regions: [String: String?] = [:]
    private var regionsHeight: Int64 = -1
    private var statements: [String: Statement] = [:]
    private let catchUpLock = NSRecursiveLock()

    private func cachedRows(_ sql: String, _ args: [SQLValue]) throws -> [[SQLValue]] {
        let st = try stmt(sql)
        try st.bind(args)
        defer { st.reset() }
        var out: [[SQLValue]] = []
        while try st.step() { out.append((0..<st.columnCount).map { st.value($0) }) }
        return out
    }

    /// Prepared once, reused for every record.
    private func stmt(_ sql: String) throws -> Statement {
        if let s = statements[sql] { return s }
        let s = try db.prepare(sql)
        statements[sql] = s
        return s
    }

    public static let schema = """
    CREATE TABLE IF NOT EXISTS v_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS v_patients(record_key TEXT PRIMARY KEY, patient_id TEXT NOT NULL, birth_date TEXT, birth_year INTEGER,
        sex TEXT, region TEXT, zip3 TEXT, deceased INTEGER, site TEXT);
    CREATE TABLE IF NOT EXISTS v_encounters(record_key TEXT PRIMARY KEY, encounter_id TEXT, patient_id TEXT NOT NULL, site TEXT,
        service_date TEXT, class TEXT, region TEXT);
    CREATE TABLE IF NOT EXISTS v_conditions(record_key TEXT PRIMARY KEY, patient_id TEXT NOT NULL, encounter_id TEXT, system TEXT,
        code TEXT, onset_date TEXT);
    CREATE TABLE IF NOT EXISTS v_medications(record_key TEXT PRIMARY KEY, patient_id TEXT NOT NULL, system TEXT, code TEXT,
        drug_class TEXT, start_date TEXT, end_date TEXT);
    CREATE TABLE IF NOT EXISTS v_immunizations(record_key TEXT PRIMARY KEY, patient_id TEXT NOT NULL, system TEXT, code TEXT,
        date TEXT, site TEXT);
    CREATE TABLE IF NOT EXISTS v_claims(record_key TEXT PRIMARY KEY, claim_id TEXT, patient_id TEXT NOT NULL, provider TEXT,
        procedure_code TEXT, service_date TEXT, amount INTEGER);
    CREATE TABLE IF NOT EXISTS v_consents(patient_id TEXT NOT NULL, consent_id TEXT NOT NULL, grantee TEXT NOT NULL, scope TEXT NOT NULL,
        expires INTEGER NOT NULL, granted_height INTEGER NOT NULL, revoked_height INTEGER, PRIMARY KEY(patient_id, consent_id));
    CREATE INDEX IF NOT EXISTS v_patients_pid ON v_patients(patient_id);
    CREATE INDEX IF NOT EXISTS v_encounters_pid ON v_encounters(patient_id);
    CREATE INDEX IF NOT EXISTS v_encounters_date ON v_encounters(service_date, region);
    CREATE INDEX IF NOT EXISTS v_encounters_eid ON v_encounters(encounter_id);
    CREATE INDEX IF NOT EXISTS v_conditions_pid ON v_conditions(patient_id);
    CREATE INDEX IF NOT EXISTS v_conditions_eid ON v_conditions(encounter_id);
    CREATE INDEX IF NOT EXISTS v_conditions_code ON v_conditions(code, system);
    CREATE INDEX IF NOT EXISTS v_medications_pid ON v_medications(patient_id);
    CREATE INDEX IF NOT EXISTS v_immunizations_pid ON v_immunizations(patient_id);
    CREATE INDEX IF NOT EXISTS v_claims_pid ON v_claims(patient_id);
    CREATE INDEX IF NOT EXISTS v_consents_grantee ON v_consents(grantee, scope);
    """

    /// The seed-compatible `world_state` rows (key, value, patient_id, record_key), derived from the
    /// typed views: each record as a canonical JSON object (keys in order, no spaces, as
    /// `JSON.canonicalString` writes it), an encounter with its conditions' codes in
    /// `diagnosis_codes` (ordered by code, then record key), a patient from its first record by
    /// record key. Derived rather than stored: a second row per record was half of the views'
    /// inserts in bulk ingest, and every condition rewrote its encounter's row.
    public static let worldStateSQL = """
    SELECT 'patient:' || p.patient_id AS key,
           json_object('birth_year', p.birth_year, 'gender', p.sex, 'region', p.region, 'sex', p.sex, 'zip3', p.zip3) AS value,
           p.patient_id AS patient_id, p.record_key AS record_key
      FROM v_patients AS p
     WHERE p.record_key = (SELECT min(q.record_key) FROM v_patients AS q WHERE q.patient_id = p.patient_id)
    UNION ALL
    SELECT 'record:' || e.patient_id || ':encounter:' || e.record_key,
           json_object('class', e.class,
                       'diagnosis_codes', coalesce((SELECT group_concat(d.code, ',') FROM (SELECT c.code AS code FROM v_conditions AS c
                                                     WHERE c.encounter_id = e.encounter_id AND c.patient_id = e.patient_id
                                                     ORDER BY c.code, c.record_key) AS d), ''),
                       'record_type', 'encounter', 'region', e.region, 'service_date', e.service_date, 'site', e.site),
           e.patient_id, e.record_key
      FROM v_encounters AS e
    """ + rowRecordTypes.map { t in
        // The row's fields and `record_type`, in canonical (sorted) key order.
        let pairs = (t.fields + ["record_type"]).sorted().map { $0 == "record_type" ? "'record_type', '\(t.type)'" : "'\($0)', \($0)" }
        return "\nUNION ALL\nSELECT 'record:' || patient_id || ':\(t.type):' || record_key, json_object(\(pairs.joined(separator: ", "))), patient_id, record_key FROM \(t.table)"
    }.joined()

    /// The record types whose world_state value is fields of their view row (and `record_type`).
    static let rowRecordTypes: [(type: String, table: String, fields: [String])] = [
        ("condition", "v_conditions", ["code", "onset_date", "system"]),
        ("medication", "v_medications", ["code", "drug_class", "system"]),
        ("immunization", "v_immunizations", ["code", "date", "system"]),
        ("claim", "v_claims", ["amount", "procedure_code", "provider", "service_date"]),
    ]

    public init(path: String, org: String, chain: String, agreementKey: AgreementKey) throws {
        self.path = path
        self.org = org
        self.chain = chain
        self.agreementKey = agreementKey
        db = try Database(path: path)
        db.setBusyTimeout(milliseconds: 5000)
        // 64 MiB page cache: the views are B-trees keyed by hashed record keys, so bulk loads touch
        // pages all over the file; with the 2 MiB default, ingest spent a fifth of this thread in read().
        // SQLite's 4 KiB pages, unlike the ledger's 16 KiB (`Ledger.filePageSize`): queries read
        // rows all over these files, and the ILI query over 1,000,000 encounters took 62 ms instead
        // of 40 ms in 16 KiB pages, while bulk ingest ran no faster with them here.
        try db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;")
        try db.execute(ViewStore.schema)
        checkpointer = try BackgroundCheckpointer(writer: db)
        // Files written before world_state was derived kept it as a table of its own; nothing reads it now.
        try db.execute("DROP TABLE IF EXISTS v_world_state")
        if let o = try db.scalar("SELECT value FROM v_meta WHERE key = 'org'")?.textValue, o != org {
            throw LedgerError.storage("views at \(path) belong to \(o), not \(org)")
        }
        try db.prepare("INSERT OR IGNORE INTO v_meta(key, value) VALUES ('org', ?), ('chain', ?), ('height', '0')").run([.text(org), .text(chain)])
    }

    /// The ledger height the views reflect.
    public var height: Int64 {
        Int64((try? db.scalar("SELECT value FROM v_meta WHERE key = 'height'"))??.textValue ?? "0") ?? 0
    }

    /// Applies every block the views have not seen yet. Returns the number of records materialised.
    ///
    /// Blocks that are waiting together are applied together, in one SQLite transaction (at most
    /// `groupBlocks` blocks and about `groupRecords` records): the view tables are B-trees keyed by
    /// hashed record keys and pseudonyms, so a transaction dirties pages all over the file and each
    /// dirty page is written to the WAL, then checkpointed, once per transaction, however few of its
    /// rows changed. The tables come out the same as block by block
    /// (`incrementalMaintenanceEqualsRebuild` compares them).
    @discardableResult
    public func catchUp(_ ledger: Ledger, progress: ((Int64, Int64) -> Void)? = nil) throws -> Int {
        // One catch-up at a time in this process (a follower thread and a caller may both ask).
        catchUpLock.lock()
        defer { catchUpLock.unlock() }
        var n = 0
        let top = ledger.height
        var h = height + 1
        while h <= top {
            var group: [Block] = []
            var records = 0
            while h <= top, group.count < ViewStore.groupBlocks, records < ViewStore.groupRecords {
                let b = try ledger.block(at: h)
                group.append(b)
                records += b.transactions.reduce(0) { $0 + ($1.body.op == "record.put" ? ($1.body.args["records"]?.arrayValue?.count ?? 0) : 0) }
                h += 1
            }
            n += try apply(group, ledger: ledger)
            progress?(h - 1, top)
        }
        return n
    }

    /// Bounds on the blocks applied in one SQLite transaction (see `catchUp`).
    static let groupBlocks = 32
    static let groupRecords = 16_000

    /// Recomputes the views from genesis into a fresh file and swaps it in.
    public static func rebuild(path: String, org: String, chain: String, agreementKey: AgreementKey, ledger: Ledger) throws -> ViewStore {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let v = try ViewStore(path: path, org: org, chain: chain, agreementKey: agreementKey)
        try v.catchUp(ledger)
        return v
    }

    /// Applies one block in one SQLite transaction. Returns the number of records materialised.
    @discardableResult
    public func apply(_ block: Block, ledger: Ledger) throws -> Int {
        try apply([block], ledger: ledger)
    }

    /// Applies consecutive blocks, the first at the views' height + 1, in one SQLite transaction.
    /// Returns the number of records materialised.
    @discardableResult
    public func apply(_ blocks: [Block], ledger: Ledger) throws -> Int {
        guard let first = blocks.first else { return 0 }
        var materialised = 0
        let known = try db.transaction {
            // Checked under the write lock: another process may share this view file.
            let current = height
            guard first.header.height == current + 1 else { throw LedgerError.invalidBlock(height: first.header.height, "views are at height \(current)") }
            if current != regionsHeight || regions.count > 200_000 { regions.removeAll() }
            // Moved, not copied (a copy would duplicate the dictionary at its first write); on
            // failure the store starts again without it.
            var scratch = BlockScratch(regions: regions)
            regions = [:]
            regionsHeight = -1
            var expected = first.header.height
            for block in blocks {
                let h = block.header.height
                guard h == expected else { throw LedgerError.invalidBlock(height: h, "blocks applied together must be consecutive (expected \(expected))") }
                expected += 1
                for tx in block.transactions {
                    switch tx.body.op {
                    case "record.put":
                        materialised += try applyRecords(tx.body.args, writer: tx.body.sender, ledger: ledger, scratch: &scratch)
                    case "consent.grant", "consent.revoke":
                        if let pid = tx.body.args["patient"]?.stringValue { try applyConsents(pid, height: h, ledger: ledger) }
                    default: break
                    }
                }
            }
            if scratch.withoutView > 0 {
                try stmt("INSERT INTO v_meta(key, value) VALUES ('records_without_view', ?) ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value")
                    .run([.integer(Int64(scratch.withoutView))])
            }
            try stmt("UPDATE v_meta SET value = ? WHERE key = 'height'").run([.text(String(expected - 1))])
            return scratch.regions
        }
        // Taken on only once the transaction has committed.
        regions = known
        regionsHeight = blocks.last!.header.height
        return materialised
    }

    private func dataKey(_ keysetID: String, inline: [String: JSON], ledger: Ledger) throws -> SymmetricKey? {
        if let k = dataKeys[keysetID] { return k }
        let keyset = try inline[keysetID] ?? ledger.value(StateKey.keyset(keysetID))
        var key: SymmetricKey?
        if let keyset, keyset["wraps"]?[org] != nil {
            key = try Envelope.unwrap(chain: chain, keyset: keyset, org: org, key: agreementKey)
        }
        if dataKeys.count > 100_000 { dataKeys.removeAll() }
        dataKeys[keysetID] = .some(key)
        return key
    }

    /// What one group of blocks' materialisation remembers between records: records without a view
    /// (counted once per group) and each patient's region once looked up (forgotten when a patient
    /// row for them is written; carried to the next group, see `regions`).
    struct BlockScratch {
        var withoutView = 0
        var regions: [String: String?] = [:]
    }

    private func applyRecords(_ args: JSON, writer: String, ledger: Ledger, scratch: inout BlockScratch) throws -> Int {
        var inline: [String: JSON] = [:]
        for ks in args["keysets"]?.arrayValue ?? [] { if let id = ks["id"]?.stringValue { inline[id] = ks } }
        let site = String(writer.split(separator: "/").first ?? "")
        let records = args["records"]?.arrayValue ?? []
        var keys: [SymmetricKey?] = []
        keys.reserveCapacity(records.count)
        for r in records { keys.append(try r["keyset"]?.stringValue.flatMap { try dataKey($0, inline: inline, ledger: ledger) }) }
        // Opening and decoding are pure: done on all cores, then written in order below.
        let opened: [Result<RecordPayload?, Error>?] = parallelMap(records.count) { i in
            guard let key = keys[i], records[i]["key"]?.stringValue != nil, records[i]["patient"]?.stringValue != nil else { return nil }
            // The record as the ledger stores it (the contract adds nothing the envelope needs).
            do {
                let plain = try Envelope.open(record: records[i], key: key)
                return .success(try? RecordPayload(bytes: plain))
            } catch {
                return .failure(error)
            }
        }
        var n = 0
        for (r, o) in zip(records, opened) {
            guard let o, let recordKey = r["key"]?.stringValue, let pid = r["patient"]?.stringValue else { continue }
            // Records that are not clinical facts the views know (notes, documents) are kept on the
            // ledger but have no view; they are counted, not fatal.
            guard let payload = try o.get() else {
                scratch.withoutView += 1
                continue
            }
            try materialise(payload, recordKey: recordKey, patient: pid, site: site, scratch: &scratch)
            n += 1
        }
        return n
    }

    private func materialise(_ p: RecordPayload, recordKey rk: String, patient pid: String, site: String, scratch: inout BlockScratch) throws {
        let k = SQLValue.text(rk), pidV = SQLValue.text(pid)
        func t(_ s: String?) -> SQLValue { s.map { .text($0) } ?? .null }
        switch p {
        case .patient(let birth, let sex, let region, let zip3, let deceased):
            try stmt("INSERT OR REPLACE INTO v_patients VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
                .run([k, pidV, .text(birth), .integer(Int64(birth.prefix(4)) ?? 0), .text(sex), .text(region), .text(zip3), .integer(deceased ? 1 : 0), .text(site)])
            scratch.regions[pid] = nil // the first patient row by record key may have changed
        case .encounter(let id, let date, let kind, let region):
            var reg = region
            if reg == nil {
                if let known = scratch.regions[pid] {
                    reg = known
                } else {
                    reg = try cachedRows("SELECT region FROM v_patients WHERE patient_id = ? ORDER BY record_key LIMIT 1", [pidV]).first?.first?.textValue
                    scratch.regions[pid] = .some(reg)
                }
            }
            try stmt("INSERT OR REPLACE INTO v_encounters VALUES (?, ?, ?, ?, ?, ?, ?)").run([k, .text(id), pidV, .text(site), .text(date), .text(kind), t(reg)])
        case .condition(let enc, let system, let code, let onset):
            try stmt("INSERT OR REPLACE INTO v_conditions VALUES (?, ?, ?, ?, ?, ?)").run([k, pidV, t(enc), .text(system), .text(code), t(onset)])
        case .medication(let system, let code, let cls, let start, let end):
            try stmt("INSERT OR REPLACE INTO v_medications VALUES (?, ?, ?, ?, ?, ?, ?)").run([k, pidV, .text(system), .text(code), t(cls), t(start), t(end)])
        case .immunization(let system, let code, let date):
            try stmt("INSERT OR REPLACE INTO v_immunizations VALUES (?, ?, ?, ?, ?, ?)").run([k, pidV, .text(system), .text(code), .text(date), .text(site)])
        case .claim(let id, let provider, let proc, let date, let amount):
            try stmt("INSERT OR REPLACE INTO v_claims VALUES (?, ?, ?, ?, ?, ?, ?)").run([k, .text(id), pidV, .text(provider), .text(proc), .text(date), .integer(amount)])
        }
    }

    /// Mirrors the patient's consents as of `height`: the height a consent was granted and revoked,
    /// so a query pinned at height H sees exactly the consents in force on the ledger at H.
    private func applyConsents(_ pid: String, height h: Int64, ledger: Ledger) throws {
        guard let p = try ledger.value(StateKey.patient(pid), asOf: h) else { return }
        for (cid, c) in (p["consents"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            try stmt("INSERT OR IGNORE INTO v_consents(patient_id, consent_id, grantee, scope, expires, granted_height) VALUES (?, ?, ?, ?, ?, ?)")
                .run([.text(pid), .text(cid), .text(c["grantee"]?.stringValue ?? ""), .text(c["scope"]?.stringValue ?? ""),
                      .integer(c["expires"]?.intValue ?? 0), .integer(h)])
            if c["status"]?.stringValue == "revoked" {
                try stmt("UPDATE v_consents SET revoked_height = ? WHERE patient_id = ? AND consent_id = ? AND revoked_height IS NULL")
                    .run([.integer(h), .text(pid), .text(cid)])
            }
        }
    }

    /// A digest of every view table's content, for comparing incremental maintenance with a rebuild.
    public func contentDigest() throws -> String {
        var h = SHA256()
        for t in ["v_patients", "v_encounters", "v_conditions", "v_medications", "v_immunizations", "v_claims", "v_world_state", "v_consents"] {
            h.update(data: Array(t.utf8))
            let source = t == "v_world_state" ? "(\(ViewStore.worldStateSQL))" : t
            for row in try db.rows("SELECT * FROM \(source) ORDER BY 1, 2") {
                for v in row { h.update(data: Array("\(v)|".utf8)) }
            }
        }
        return Array(h.finalize()).hexString
    }

    public func count(_ table: String) throws -> Int64 {
        try db.scalar("SELECT count(*) FROM \(table == "world_state" ? "(\(ViewStore.worldStateSQL))" : "v_" + table)")?.intValue ?? 0
    }

    /// The record key of this site's encounter with `patient` on `date` (YYYY-MM-DD), for a claim's evidence.
    public func encounterRecord(patient: String, date: String, site: String) throws -> String? {
        try cachedRows("SELECT record_key FROM v_encounters WHERE patient_id = ? AND site = ? AND substr(service_date, 1, 10) = ? ORDER BY record_key LIMIT 1",
                       [.text(patient), .text(site), .text(date)]).first?.first?.textValue
    }

    /// For tests and benchmarks that need direct access to the view file.
    public var database: Database { db }
}

/// Keeps a `ViewStore` caught up with a ledger on a thread of its own, so materialising block n runs
/// while block n+1 is being built and committed (bulk ingest). `blockCommitted()` wakes it; `wait`
/// returns once the views reach a height, or throws the error that stopped the follower.
public final class ViewFollower: @unchecked Sendable {
    let views: ViewStore
    let ledger: Ledger
    private let cond = NSCondition()
    private var reached: Int64
    private var failure: Error?
    private var stopped = false
    private var wakeups = 0

    public init(views: ViewStore, ledger: Ledger) {
        self.views = views
        self.ledger = ledger
        reached = views.height
        let t = Thread { [self] in run() }
        t.name = "tally-view-follower"
        t.start()
    }

    public func blockCommitted() { cond.withLock { wakeups += 1; cond.signal() } }

    /// Waits (bounded) until the views reach `height`; rethrows what stopped the follower.
    public func wait(untilHeight height: Int64, timeout: TimeInterval = 600) throws {
        let deadline = Date().addingTimeInterval(timeout)
        try cond.withLock {
            while reached < height && failure == nil {
                wakeups += 1
                cond.broadcast()
                if !cond.wait(until: deadline) { break }
            }
            if let f = failure { throw f }
            guard reached >= height else { throw LedgerError.storage("views did not reach block \(height) within \(Int(timeout)) s") }
        }
    }

    public func stop() { cond.withLock { stopped = true; cond.broadcast() } }

    private func run() {
        while true {
            let go: Bool = cond.withLock {
                while wakeups == 0 && !stopped { cond.wait() }
                wakeups = 0
                return !stopped && failure == nil
            }
            guard go else { return }
            do {
                try views.catchUp(ledger)
                let h = views.height
                cond.withLock { reached = h; cond.broadcast() }
            } catch {
                cond.withLock { failure = error; cond.broadcast() }
                return
            }
        }
    }
}
