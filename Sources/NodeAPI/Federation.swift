import Consensus
import DeidSQL
import Federation
import Foundation
import Ledger
import SQLiteStore

/// A node's federation services: its decrypted views kept caught up with the replicated ledger, the
/// member side (answering signed requests over those views) and the coordinator side (recording a
/// submission on the ledger, fanning it out, verifying and merging the answers).
public final class FederationServices: @unchecked Sendable {
    public let node: ClusterNode
    let keys: OrganisationKeys
    let views: ViewStore
    let member: MemberService
    let valueSets: [String: ValueSet]
    /// Each member's API address (`host:port`).
    let apiAddresses: [String: String]
    public var siteDeadline: TimeInterval = 20
    /// Where answers and coordinated queries are counted and timed (set before serving).
    public var metrics: NodeMetrics?
    /// Serialises the views' connection between catch-up and evaluation.
    private let viewLock = NSCondition()
    private var viewHeight: Int64 = 0
    private var running = true
    private let signerLock = NSLock()
    private var signer: TransactionSigner?
    let log: @Sendable (String) -> Void
    /// Query outcomes waiting to be recorded (`audit.result`), off the requester's path; bounded.
    private let outcomes = NSCondition()
    private var outcomeQueue: [(entry: JSON, queued: Date)] = []
    /// Outcomes taken off the queue by the flushing thread and not yet submitted.
    private var outcomesInFlight = 0
    /// How long an outcome waits for a query submission to carry it before it is recorded alone.
    public var outcomeFlushAfter: TimeInterval = 2
    private var outcomeThread: Thread?
    private var outcomesStopped = false
    public static let maxPendingOutcomes = 256
    /// Merge plans of recently coordinated SQL (the same templates run again and again); bounded.
    private var plans: [String: MergePlan] = [:]
    private let planLock = NSLock()

    public init(node: ClusterNode, keys: OrganisationKeys, viewsPath: String, valueSets: [String: ValueSet], apiAddresses: [String: String],
                log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        self.node = node
        self.keys = keys
        self.valueSets = valueSets
        self.apiAddresses = apiAddresses
        self.log = log
        views = try ViewStore(path: viewsPath, org: keys.org, chain: node.ledger.chain, agreementKey: keys.agreement)
        member = MemberService(keys: keys, ledger: node.ledger, views: views, valueSets: valueSets)
        viewHeight = views.height
    }

    /// Wakes the view follower (wire it to `ClusterNode.onBlock`).
    public func blockCommitted() { viewLock.withLock { viewLock.broadcast() } }

    /// Follows the ledger: decrypts new blocks into the views as they commit.
    public func startFollowing() {
        let t = Thread { [self] in
            while viewLock.withLock({ running }) {
                if node.ledger.height > viewLock.withLock({ viewHeight }) {
                    viewLock.withLock {
                        do { _ = try views.catchUp(node.ledger); viewHeight = views.height } catch { log("views: \(error)") }
                        viewLock.broadcast()
                    }
                }
                viewLock.withLock {
                    if node.ledger.height <= viewHeight { _ = viewLock.wait(until: Date().addingTimeInterval(0.5)) }
                }
            }
        }
        t.name = "tally-views"
        t.start()
    }

    public func stop() {
        viewLock.withLock { running = false; viewLock.broadcast() }
        outcomes.withLock { outcomesStopped = true; outcomes.broadcast() }
    }

    public var viewsHeight: Int64 { viewLock.withLock { viewHeight } }

    // MARK: member side

    /// Answers a coordinator's request: waits (≤ 10 s) for the views to reach the pinned height, checks
    /// the request against the ledger and evaluates it.
    public func answer(_ fr: FederatedRequest) -> SiteOutcomeJSON {
        let started = ContinuousClock.now
        let outcome = answerUntimed(fr)
        if let m = metrics {
            m.evaluation.record(ContinuousClock.now - started)
            switch outcome {
            case .answered(let r):
                m.answers("answered").increment()
                m.suppressedRows.increment(by: Int64(r.suppressedRows))
                m.suppressedCells.increment(by: Int64(r.suppressedCells))
            case .refused(let code, _): m.answers(code).increment()
            }
        }
        return outcome
    }

    func answerUntimed(_ fr: FederatedRequest) -> SiteOutcomeJSON {
        let deadline = Date().addingTimeInterval(10)
        let t0 = DispatchTime.now().uptimeNanoseconds
        let reached = viewLock.withLock { () -> Bool in
            while viewHeight < fr.pinnedHeight { if !viewLock.wait(until: deadline) { return viewHeight >= fr.pinnedHeight } }
            return true
        }
        guard reached else { return .refused(code: "not_caught_up", reason: "views did not reach block \(fr.pinnedHeight) in time") }
        let t1 = DispatchTime.now().uptimeNanoseconds
        do {
            var r = try viewLock.withLock { try member.answer(fr) }
            r.timings = ["wait_views": Double(t1 - t0) / 1e6, "evaluate": Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e6]
            log("answered query \(fr.queryID) for \(fr.requester) under \(fr.policyID): \(r.rows.count) row(s), \(r.suppressedRows) withheld")
            return .answered(r)
        } catch let e as Refusal {
            log("refused query \(fr.queryID) for \(fr.requester): \(e.code)")
            return .refused(code: e.code, reason: e.description)
        } catch let e as FederationError {
            log("refused query \(fr.queryID): \(e)")
            return .refused(code: "unauthenticated", reason: e.description)
        } catch {
            return .refused(code: "error", reason: "\(error)")
        }
    }

    public enum SiteOutcomeJSON {
        case answered(SiteResult)
        case refused(code: String, reason: String)
    }

    // MARK: coordinator side

    public struct QueryError: Error, CustomStringConvertible {
        public let status: Int
        public let description: String
    }

    /// Runs a federated query for this node's organisation.
    public func coordinate(policy: String, sql: String, parameters: [String: String], purpose: String) throws -> FederatedResult {
        let started = ContinuousClock.now
        do {
            let r = try coordinateUntimed(policy: policy, sql: sql, parameters: parameters, purpose: purpose)
            metrics?.coordination.record(ContinuousClock.now - started)
            metrics?.coordinated(r.isPartial ? "partial" : "complete").increment()
            return r
        } catch {
            metrics?.coordinated("failed").increment()
            throw error
        }
    }

    func coordinateUntimed(policy: String, sql: String, parameters: [String: String], purpose: String) throws -> FederatedResult {
        // 1. The query must be valid before anything is recorded.
        let plan: MergePlan
        if let p = planLock.withLock({ plans[sql] }) {
            plan = p
        } else {
            do { plan = try MemberService.rewrittenSQL(sql, valueSets: valueSets).plan } catch {
                throw QueryError(status: 400, description: "\(error)")
            }
            planLock.withLock {
                if plans.count >= 64 { plans = [:] }
                plans[sql] = plan
            }
        }
        // A policy just voted on may not have reached this node yet: wait for it briefly (bounded).
        guard Member.isValidID(policy) else { throw QueryError(status: 400, description: "a policy id is lowercase letters, digits and '-'") }
        var stored = try node.ledger.value(StateKey.policy(policy))
        let deadline = Date().addingTimeInterval(5)
        while stored == nil, Date() < deadline {
            usleep(20_000)
            stored = try node.ledger.value(StateKey.policy(policy))
        }
        guard let stored else { throw QueryError(status: 404, description: "no policy \(policy) on this node's ledger") }
        if let requesters = stored["document"]?["requesters"]?.arrayValue, !requesters.contains(.string(keys.org)) {
            throw QueryError(status: 403, description: "policy \(policy) does not list \(keys.org) as a requester")
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        func ms(since t: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6 }
        // 2. Record the submission (query hash, policy, requester, pinned time) before fanning out.
        let carried = takeOutcomes()
        var args: JSON = ["query_hash": .string(Hash32.sha256(Array(sql.utf8)).hex), "policy": .string(policy),
                          "purpose": .string(String(purpose.prefix(200)))]
        if !carried.isEmpty { args = args.setting("outcomes", .array(carried.map(\.entry))) }
        let receipt: TransactionReceipt
        let leaderMicros: Int64?
        do { (receipt, leaderMicros) = try submitTimed("audit.query", args) } catch {
            requeue(carried)
            throw error
        }
        guard let queryID = receipt.result["query"]?.stringValue, let pinnedTime = receipt.result["pinned_time"]?.intValue else {
            throw QueryError(status: 500, description: "the submission's receipt names no query id")
        }
        var fr = FederatedRequest(queryID: queryID, policyID: policy, requester: keys.org, sql: sql, parameters: parameters,
                                  pinnedTime: pinnedTime, pinnedHeight: receipt.height, submissionIndex: receipt.index)
        fr.sign(keys.signing)
        // The coordinator applies the policy's k again to merged rows. A policy document (and so its k)
        // never changes after it is proposed, so the copy read above is the one in force at the pinned
        // block: the fan-out need not wait for this node to apply the submission's block.
        let k = max(stored["document"]?["k"]?.intValue ?? node.ledger.params.kFloor, node.ledger.params.kFloor)
        let submitted = ms(since: t0)
        // 3. Fan out to every custodian at once, each with its own deadline.
        let t1 = DispatchTime.now().uptimeNanoseconds
        let sites = custodians()
        let outcomes = OutcomeBox(count: sites.count)
        // A thread per site: all sites are asked at once however many cores there are.
        let group = DispatchGroup()
        for (i, site) in sites.enumerated() {
            group.enter()
            let request = fr
            Workers.shared.run { [self] in
                outcomes.set(i, ask(site, request))
                group.leave()
            }
        }
        group.wait()
        let fanout = ms(since: t1)
        let t2 = DispatchTime.now().uptimeNanoseconds
        let all = outcomes.all
        var result = Merger.merge(all, plan: plan, request: fr, k: k)
        result.timings = ["submit": submitted, "fanout": fanout, "merge": ms(since: t2)]
        if let us = leaderMicros { result.timings["submit_at_leader"] = Double(us) / 1000 }
        // The slowest site's own time, split: waiting for its views to reach the block, evaluating.
        let answered = all.compactMap { o -> SiteResult? in if case .answered(let r) = o { return r }; return nil }
        func own(_ r: SiteResult) -> Double { (r.timings["wait_views"] ?? 0) + (r.timings["evaluate"] ?? 0) }
        if let slowest = answered.max(by: { own($0) < own($1) }) {
            result.timings["site_wait_views"] = slowest.timings["wait_views"] ?? 0
            result.timings["site_evaluate"] = slowest.timings["evaluate"] ?? 0
        }
        recordOutcome(queryID, all)
        rememberResult(result)
        return result
    }

    /// The merged results of the latest queries this node coordinated (`GET /v1/queries/{id}`).
    private var recent: [(String, FederatedResult)] = []
    private let recentLock = NSLock()
    static let recentResults = 256

    func rememberResult(_ r: FederatedResult) {
        recentLock.withLock {
            recent.append((r.queryID, r))
            if recent.count > FederationServices.recentResults { recent.removeFirst(recent.count - FederationServices.recentResults) }
        }
    }

    func recentResult(_ id: String) -> FederatedResult? { recentLock.withLock { recent.last { $0.0 == id }?.1 } }

    /// Queues the outcome of `queryID` (which sites answered, refused, were missing — names only), so
    /// each patient's access report can say exactly which sites read their records. Outcomes ride on
    /// this node's next `audit.query` (no block of their own); after `outcomeFlushAfter` without a
    /// query, a thread of their own records them with `audit.result`. When the queue is full an
    /// outcome is dropped with a log line, and the access report falls back to the sites that had
    /// approved the policy.
    func recordOutcome(_ queryID: String, _ all: [SiteOutcome]) {
        var answered: [String] = [], refused: [String] = [], missing: [String] = []
        for o in all {
            switch o {
            case .answered(let r): answered.append(r.site)
            case .refused(let s, _, _): refused.append(s)
            case .missing(let s, _): missing.append(s)
            }
        }
        let entry: JSON = ["query": .string(queryID), "answered": .array(answered.map { .string($0) }),
                           "refused": .array(refused.map { .string($0) }), "missing": .array(missing.map { .string($0) })]
        outcomes.withLock {
            guard outcomeQueue.count < FederationServices.maxPendingOutcomes else {
                log("outcome of \(queryID) not recorded: \(outcomeQueue.count) outcomes already waiting")
                return
            }
            outcomeQueue.append((entry, Date()))
            outcomes.signal()
            if outcomeThread == nil {
                let t = Thread { [self] in flushOutcomes() }
                t.name = "tally-outcomes"
                outcomeThread = t
                t.start()
            }
        }
    }

    /// Takes the outcomes waiting (at most what one submission carries) for the next `audit.query`.
    func takeOutcomes() -> [(entry: JSON, queued: Date)] {
        outcomes.withLock {
            let n = min(outcomeQueue.count, 64)
            defer { outcomeQueue.removeFirst(n) }
            return Array(outcomeQueue.prefix(n))
        }
    }

    /// Puts back outcomes whose submission failed, oldest first.
    func requeue(_ items: [(entry: JSON, queued: Date)]) {
        outcomes.withLock {
            outcomeQueue.insert(contentsOf: items.prefix(max(0, FederationServices.maxPendingOutcomes - outcomeQueue.count)), at: 0)
            outcomes.signal()
        }
    }

    /// Records outcomes no query has carried for `outcomeFlushAfter`, one `audit.result` each.
    private func flushOutcomes() {
        while true {
            let due: [(entry: JSON, queued: Date)]? = outcomes.withLock {
                while !outcomesStopped {
                    if let oldest = outcomeQueue.first?.queued {
                        let dueAt = oldest.addingTimeInterval(outcomeFlushAfter)
                        if dueAt <= Date() { break }
                        _ = outcomes.wait(until: dueAt)
                    } else {
                        _ = outcomes.wait(until: Date().addingTimeInterval(1))
                    }
                }
                if outcomesStopped {
                    if !outcomeQueue.isEmpty { log("\(outcomeQueue.count) query outcome(s) not recorded: node stopping") }
                    return nil
                }
                defer { outcomesInFlight = outcomeQueue.count; outcomeQueue.removeAll() }
                return outcomeQueue
            }
            guard let due else { return }
            for (entry, _) in due {
                do { _ = try submitAsOrganisation("audit.result", entry) } catch {
                    log("outcome of \(entry["query"]?.stringValue ?? "?") not recorded: \(error)")
                }
                outcomes.withLock { outcomesInFlight -= 1 }
            }
        }
    }

    /// Outcomes not yet recorded on the ledger, waiting or being submitted (tests, shutdown and
    /// `tally demo` wait for zero; `/v1/status` reports it as `pending_outcomes`).
    public var pendingOutcomes: Int { outcomes.withLock { outcomeQueue.count + outcomesInFlight } }

    /// Active members that hold patient records (custodian kinds: hospitals, clinics).
    func custodians() -> [String] {
        let ids = ((try? node.ledger.value(StateKey.chain))??["members"]?.arrayValue ?? []).compactMap(\.stringValue)
        return ids.filter { id in
            guard let m = try? node.ledger.value(StateKey.member(id)), m["status"]?.stringValue == "active" else { return false }
            return m["kind"]?.stringValue.flatMap(MemberKind.init(rawValue:))?.isCustodian ?? false
        }.sorted()
    }

    func ask(_ site: String, _ fr: FederatedRequest) -> SiteOutcome {
        guard let api = apiAddresses[site] else { return .missing(site: site, reason: "no API address configured") }
        let body = Array(fr.json.canonicalString.utf8)
        let code: Int, text: String
        do { (code, text) = try HTTP.request("POST", api, "/v1/evaluate", body: body, timeout: siteDeadline) } catch {
            return .missing(site: site, reason: "\(error)")
        }
        guard let json = try? JSON.parse(Array(text.utf8)) else { return .missing(site: site, reason: "unreadable answer (HTTP \(code))") }
        if code == 403 {
            return .refused(site: site, code: json["code"]?.stringValue ?? "refused", reason: json["reason"]?.stringValue ?? "")
        }
        guard code == 200, let r = try? SiteResult(json: json) else { return .missing(site: site, reason: "HTTP \(code)") }
        guard let m = try? node.ledger.value(StateKey.member(site)), let key = m["signing_key"]?.stringValue.flatMap(PublicSigningKey.init(base64:)),
              r.isValid(signedBy: key) else { return .missing(site: site, reason: "answer's signature does not verify; discarded") }
        guard r.site == site, r.queryID == fr.queryID, r.policyID == fr.policyID, r.height == fr.pinnedHeight, r.pinnedTime == fr.pinnedTime else {
            return .missing(site: site, reason: "answer is bound to another query; discarded")
        }
        return .answered(r)
    }

    /// Signs `op` as this node's organisation and commits it (through the leader if need be).
    public func submitAsOrganisation(_ op: String, _ args: JSON) throws -> TransactionReceipt {
        try submitTimed(op, args).receipt
    }

    /// As `submitAsOrganisation`, with the leader's own request-to-commit time when the submission
    /// was forwarded to another node (its `server_us`).
    func submitTimed(_ op: String, _ args: JSON) throws -> (receipt: TransactionReceipt, leaderMicros: Int64?) {
        do { return try submitAnywhere(nextSigner().sign(op, args)) } catch let e as QueryError where e.description.contains("nonce") {
            return try submitAnywhere(nextSigner(fresh: true).sign(op, args))
        }
    }

    /// Runs `body` with the views to itself (the follower does not apply blocks meanwhile).
    func withViews<T>(_ body: () throws -> T) rethrows -> T { try viewLock.withLock { try body() } }

    /// The organisation's signer, its nonces continuing from the ledger (`fresh` re-reads them after
    /// another program signed for the organisation).
    private func nextSigner(fresh: Bool = false) -> TransactionSigner {
        signerLock.withLock {
            if let s = signer, !fresh { return s }
            let first = (try? node.ledger.nextNonce(for: keys.org)) ?? 0
            let s = TransactionSigner(chain: node.ledger.chain, identity: keys.org, key: keys.signing, firstNonce: first)
            signer = s
            return s
        }
    }

    /// Submits through this node, or through the leader's API when this node does not lead.
    func submitAnywhere(_ tx: Transaction) throws -> (receipt: TransactionReceipt, leaderMicros: Int64?) {
        // Bounded: up to 15 s, through an election if the leader just died.
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            switch node.submit(tx.bytes) {
            case .committed(let r): return (r, nil)
            case .refused(let e): throw QueryError(status: 422, description: "submission refused: \(e)")
            case .unknown(let m): throw QueryError(status: 503, description: "submission outcome unknown: \(m)")
            case .notLeader(let leader):
                if let l = leader, let api = apiAddresses[l],
                   let (code, text) = try? HTTP.request("POST", api, "/v1/transactions", body: tx.bytes, timeout: 10),
                   let j = try? JSON.parse(Array(text.utf8)) {
                    if code == 200, let hex = j["hash"]?.stringValue, let h = Hash32(hex: hex), let height = j["height"]?.intValue,
                       let index = j["index"]?.intValue, let result = j["result"] {
                        return (TransactionReceipt(hash: h, height: height, index: Int(index), result: result), j["server_us"]?.intValue)
                    }
                    if code == 422 { throw QueryError(status: 422, description: "submission refused: \(j["error"]?.stringValue ?? "")") }
                    if code == 503 { throw QueryError(status: 503, description: "submission outcome unknown: \(j["error"]?.stringValue ?? "")") }
                }
                usleep(100_000)
            }
        }
        throw QueryError(status: 503, description: "no leader accepted the submission within 15 s; try again")
    }
}

private final class OutcomeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [SiteOutcome?]
    init(count: Int) { items = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ o: SiteOutcome) { lock.withLock { items[i] = o } }
    var all: [SiteOutcome] { lock.withLock { items.compactMap { $0 } } }
}
