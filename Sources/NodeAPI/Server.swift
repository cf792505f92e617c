import Consensus
import Federation
import Foundation
import Hummingbird
import Logging
import Ledger
import NIOCore
import Raft
import SQLiteStore
import Workflows

/// The node's HTTP API (JSON), used by the CLI and other programs to reach a running node.
///
///     GET  /v1/status                 role, term, leader, commit/applied index, ledger height and head
///     POST /v1/transactions           one signed transaction (wire bytes, application/octet-stream);
///                                     waits for its block: 200 committed, 422 refused, 421 not the
///                                     leader (with the leader's API address), 503 outcome unknown
///     POST /v1/transactions/batch     many transactions (4-byte length + bytes each, ≤ 5,000): one
///                                     result each, in order
///     POST /v1/queries                run a federated query as this node's organisation (coordinator)
///     POST /v1/evaluate               a coordinator's signed request to this member (site answer)
///     GET  /v1/transactions/{hash}    the receipt of a committed transaction (hex hash), or 404
///     GET  /v1/blocks/{height}        a block header and checkpoint (never transaction payloads)
///     GET  /v1/patients/{pid}/consents       a patient's consents with their status now
///     GET  /v1/patients/{pid}/access-report  everything that touched a patient's data, with proofs
///     GET  /v1/break-glass?overdue_hours=N   emergency accesses awaiting this organisation's review
///     GET  /v1/claims/{id}/verification      (payer nodes) the verdict on a claim addressed to it
///     GET  /v1/anchors/{sha256}              an anchored dataset digest, with its inclusion proof
///
/// Consent changes, reviews, claims and anchors are written as signed transactions (POST /v1/transactions).
/// Bounds: request bodies ≤ the consortium's transaction size limit; a submission waits ≤ 10 s.
public struct NodeAPI: Sendable {
    public let node: ClusterNode
    /// Each member's API address, so a follower can name where the leader listens.
    public let apiAddresses: [String: String]
    public var submitTimeout: TimeInterval = 10
    public let federation: FederationServices?
    public let metrics: NodeMetrics
    /// The web pages; nil serves the API alone.
    public let pages: ConsolePages?
    let auth: RequestAuthenticator
    /// The node directory (for the mirror status files `tally mirror run` writes), if any.
    public var directory: String?

    public init(node: ClusterNode, apiAddresses: [String: String], federation: FederationServices? = nil, metrics: NodeMetrics = NodeMetrics(),
                pages: ConsolePages? = nil) {
        self.node = node
        self.apiAddresses = apiAddresses
        self.federation = federation
        self.metrics = metrics
        self.pages = pages
        self.auth = RequestAuthenticator(ledger: node.ledger)
        federation?.metrics = metrics
    }

    /// Ready to serve: the node runs, knows a leader, has applied what it knows committed, and its
    /// views are at most a few blocks behind its ledger.
    func readiness() -> (Bool, [String]) {
        var reasons: [String] = []
        let s = node.status
        if let f = node.failure { reasons.append("node stopped: \(f)") }
        if s.leader == nil { reasons.append("no known Raft leader") }
        if s.commit > s.applied + 16 { reasons.append("applying: \(s.commit - s.applied) committed entries not applied yet") }
        if let v = federation?.viewsHeight, node.ledger.height - v > 16 { reasons.append("views \(node.ledger.height - v) blocks behind the ledger") }
        return (reasons.isEmpty, reasons)
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        let api = self
        router.add(middleware: ErrorMiddleware(api: api))
        router.get("/v1/status") { _, _ in api.json(.ok, api.statusJSON()) }
        router.get("/health") { _, _ in
            api.node.failure.map { api.json(.serviceUnavailable, ["status": "failed", "error": .string($0)]) } ?? api.json(.ok, ["status": "ok"])
        }
        router.get("/ready") { _, _ in
            let (ready, reasons) = api.readiness()
            return api.json(ready ? .ok : .serviceUnavailable, ["ready": .bool(ready), "reasons": .array(reasons.map { .string($0) })])
        }
        router.get("/metrics") { _, _ in
            api.metrics.observe(api.node.status, ledger: api.node.ledger.height, views: api.federation?.viewsHeight)
            api.metrics.observeMirrors(in: api.directory, ledger: api.node.ledger.height)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: api.metrics.registry.emitToBuffer())))
        }
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        router.post("/v1/transactions") { request, _ in
            let started = DispatchTime.now().uptimeNanoseconds
            let limit = Int(api.node.ledger.params.maxTransactionBytes) + 1024
            let body: ByteBuffer
            do { body = try await request.body.collect(upTo: limit) } catch {
                return api.json(.contentTooLarge, ["error": .string("transaction exceeds \(limit) bytes")])
            }
            let bytes = Array(body.readableBytesView)
            let node = api.node
            let timeout = api.submitTimeout
            let result = await withCheckedContinuation { (c: CheckedContinuation<SubmitResult, Never>) in
                node.submit(bytes, timeout: timeout) { c.resume(returning: $0) }
            }
            // How long this node took, from the request to the committed block (for callers' breakdowns).
            return api.response(for: result, serverMicros: (DispatchTime.now().uptimeNanoseconds - started) / 1000)
        }
        router.post("/v1/transactions/batch") { request, _ in
            // Length-prefixed transactions (4-byte big-endian length, then the bytes), at most 5,000 and 64 MiB.
            let body: ByteBuffer
            do { body = try await request.body.collect(upTo: 64 << 20) } catch {
                return api.json(.contentTooLarge, ["error": "batch exceeds 64 MiB"])
            }
            let bytes = Array(body.readableBytesView)
            var txs: [[UInt8]] = []
            var at = 0
            while at < bytes.count {
                guard at + 4 <= bytes.count, txs.count < 5000 else { return api.json(.badRequest, ["error": "malformed batch (or more than 5,000 transactions)"]) }
                let n = bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) }
                at += 4
                guard n <= bytes.count - at else { return api.json(.badRequest, ["error": "truncated batch"]) }
                txs.append(Array(bytes[at..<at + n]))
                at += n
            }
            let node = api.node
            let batch = txs
            let results = await offload { node.submit(many: batch, timeout: 60) }
            if case .notLeader = results.first, results.allSatisfy({ if case .notLeader = $0 { return true } else { return false } }) {
                return api.response(for: results[0])
            }
            return api.json(.ok, ["results": .array(results.map { api.resultJSON($0) })])
        }
        router.get("/v1/transactions/:hash") { _, context in
            guard let hex = context.parameters.get("hash"), let hash = Hash32(hex: hex) else {
                return api.json(.badRequest, ["error": "expected a 64-character hex transaction hash"])
            }
            guard let r = try api.node.ledger.receipt(hash) else { return api.json(.notFound, ["error": "no committed transaction with that hash"]) }
            return api.json(.ok, api.receiptJSON(r))
        }
        router.get("/v1/blocks/:height") { _, context in
            guard let s = context.parameters.get("height"), let h = Int64(s), h >= 0 else {
                return api.json(.badRequest, ["error": "expected a block height"])
            }
            guard h <= api.node.ledger.height else { return api.json(.notFound, ["error": .string("no block \(h) yet")]) }
            let b = try api.node.ledger.block(at: h)
            return api.json(.ok, ["hash": .string(b.hash.hex), "header": b.header.json, "checkpoint": b.checkpoint.json,
                                  "transactions": .int(Int64(b.transactions.count))])
        }
        router.get("/v1/patients/:pid/consents") { request, context in
            _ = try api.caller(request)
            let pid = context.parameters.get("pid") ?? ""
            do {
                return api.json(.ok, .array(try ConsentPortal.list(ledger: api.node.ledger, patient: pid, at: Clock.wallMillis()).map(\.json)))
            } catch let e as WorkflowError { return api.json(.notFound, ["error": .string(e.description)]) }
        }
        router.get("/v1/patients/:pid/access-report") { request, context in
            _ = try api.caller(request)
            let pid = context.parameters.get("pid") ?? ""
            let result = await offload { Result { try AccessReport.build(ledger: api.node.ledger, patient: pid) } }
            switch result {
            case .success(let r): return api.json(.ok, r.json)
            case .failure(let e as WorkflowError): return api.json(.notFound, ["error": .string(e.description)])
            case .failure(let e): return api.json(.internalServerError, ["error": .string("\(e)")])
            }
        }
        router.get("/v1/anchors/:sha256") { _, context in
            guard let hex = context.parameters.get("sha256"), Hash32(hex: hex) != nil else {
                return api.json(.badRequest, ["error": "expected a 64-character hex SHA-256"])
            }
            guard let entry = try api.node.ledger.value(StateKey.anchor(hex.lowercased())),
                  let tx = entry["tx"]?.stringValue.flatMap(Hash32.init(hex:)) else { return api.json(.notFound, ["error": "no dataset with that SHA-256 is anchored"]) }
            return api.json(.ok, ["anchor": entry, "proof": try api.node.ledger.inclusionProof(for: tx).json])
        }
        if let pages { addPages(to: router, pages) }
        if let fed = federation {
            router.get("/v1/break-glass") { request, _ in
                _ = try api.caller(request, ownOrganisation: true)
                let hours = request.uri.queryParameters.get("overdue_hours").flatMap { Int64($0) } ?? 72
                guard hours > 0, hours < 24 * 3650 else { return api.json(.badRequest, ["error": "overdue_hours must be between 1 and 87599"]) }
                let items = try BreakGlassQueue.pending(ledger: api.node.ledger, org: fed.keys.org, now: Clock.wallMillis(), reviewWithin: hours * 3_600_000)
                return api.json(.ok, .array(items.map(\.json)))
            }
            router.get("/v1/claims/:id/verification") { request, context in
                _ = try api.caller(request, ownOrganisation: true)
                let id = context.parameters.get("id") ?? ""
                do {
                    return api.json(.ok, try ClaimVerifier(ledger: api.node.ledger, keys: fed.keys).verify(id).json)
                } catch let e as WorkflowError { return api.json(.notFound, ["error": .string(e.description)]) }
            }
            router.post("/v1/evaluate") { request, _ in
                let body = try await request.body.collect(upTo: 1 << 20)
                guard let j = try? JSON.parse(Array(body.readableBytesView)), let fr = try? FederatedRequest(json: j) else {
                    return api.json(.badRequest, ["error": "expected a signed federated request"])
                }
                let outcome = await offload { fed.answer(fr) }
                switch outcome {
                case .answered(let r): return api.json(.ok, r.json)
                case .refused(let code, let reason): return api.json(.forbidden, ["code": .string(code), "reason": .string(reason), "error": .string(reason)])
                }
            }
            router.post("/v1/queries") { request, _ in
                let body = try await request.body.collect(upTo: 1 << 20)
                let caller = try api.caller(request, body: Array(body.readableBytesView), ownOrganisation: true)
                guard [Role.organisation, Role.analyst, Role.dataSteward, Role.admin].contains(caller.role) else {
                    throw HTTPError(.forbidden, message: "role \(caller.role) may not run federated queries")
                }
                guard let j = try? JSON.parse(Array(body.readableBytesView)), let policy = j["policy"]?.stringValue, let sql = j["sql"]?.stringValue else {
                    return api.json(.badRequest, ["error": "expected {\"policy\": ID, \"sql\": TEXT, \"parameters\": {…}}"])
                }
                let params = (j["parameters"]?.objectValue ?? [:]).compactMapValues { $0.stringValue ?? $0.intValue.map(String.init) }
                let purpose = j["purpose"]?.stringValue ?? ""
                let result = await offload { Result { try fed.coordinate(policy: policy, sql: sql, parameters: params, purpose: purpose) } }
                switch result {
                case .success(let r): return api.json(.ok, r.json)
                case .failure(let e as FederationServices.QueryError): return api.json(.init(code: e.status), ["error": .string(e.description)])
                case .failure(let e): return api.json(.internalServerError, ["error": .string("\(e)")])
                }
            }
            router.get("/v1/queries/:id") { request, context in
                let caller = try api.caller(request)
                let id = context.parameters.get("id") ?? ""
                guard Member.isValidID(id), let q = try api.node.ledger.value(StateKey.query(id)) else { throw HTTPError(.notFound, message: "no query \(id) on this node's ledger") }
                var out: JSON = ["query": q]
                // The merged result stays with the requester's organisation.
                if caller.org == api.node.org, let r = fed.recentResult(id) { out = out.setting("result", r.json) }
                return api.json(.ok, out)
            }
            router.post("/v1/queries/preview") { request, _ in
                let body = try await request.body.collect(upTo: 1 << 20)
                _ = try api.caller(request, body: Array(body.readableBytesView), ownOrganisation: true)
                guard let j = try? JSON.parse(Array(body.readableBytesView)), let policy = j["policy"]?.stringValue, let sql = j["sql"]?.stringValue else {
                    throw HTTPError(.badRequest, message: "expected {\"policy\": ID, \"sql\": TEXT, \"parameters\": {…}}")
                }
                var params: [String: SQLValue] = [:]
                for (k, v) in j["parameters"]?.objectValue ?? [:] { params[k] = v.intValue.map { .integer($0) } ?? v.stringValue.map { .text($0) } }
                let h = min(api.node.ledger.height, fed.viewsHeight)
                let time = try api.node.ledger.block(at: h).header.time
                let requester = (try api.node.ledger.value(StateKey.policy(policy)))?["document"]?["requesters"]?.arrayValue?.first?.stringValue ?? api.node.org
                let r = QueryRequest(queryID: "preview", policyID: policy, requester: requester, sql: sql, parameters: params, pinnedTime: time, pinnedHeight: h)
                let outcome = await offload { Result { try fed.withViews { try fed.member.preview(r) } } }
                switch outcome {
                case .success(let (result, _)): return api.json(.ok, result.json.setting("preview", true))
                case .failure(let e as Refusal): return api.json(.unprocessableContent, ["code": .string(e.code), "error": .string(e.description)])
                case .failure(let e): return api.json(.internalServerError, ["error": .string("\(e)")])
                }
            }
            router.get("/v1/surveillance") { request, _ in
                _ = try api.caller(request, ownOrganisation: true)
                guard let path = api.pages?.resultsPath, FileManager.default.fileExists(atPath: path) else { return api.json(.ok, ["rows": []]) }
                let after = request.uri.queryParameters.get("after").flatMap { Int64($0) } ?? 0
                let rows = try SurveillanceResults(path: path).rows(after: after, limit: 10_000)
                return api.json(.ok, ["rows": .array(rows.map { id, r in
                    ["id": .int(id), "query": .string(r.queryID), "policy": .string(r.policyID), "region": .string(r.region), "day": .string(r.day),
                     "value_set": .string(r.valueSet), "count": r.count.map { .int($0) } ?? .null, "suppressed": .bool(r.count == nil)]
                })])
            }
        }
        router.get("/v1/policies") { request, _ in
            _ = try api.caller(request)
            let now = Clock.wallMillis()
            return api.json(.ok, .array(try api.node.ledger.entries(prefix: "policy/").map { _, p in
                ["id": p["id"] ?? .null, "hash": p["hash"] ?? .null, "status": .string(PolicyStatus.derive(p, at: now).rawValue),
                 "proposer": p["proposer"] ?? .null, "k": p["k"] ?? .null, "rule": p["rule"] ?? .null, "quorum": p["quorum"] ?? .null,
                 "custodians": p["custodians"] ?? .null, "votes": p["votes"] ?? .null, "expires": p["expires"] ?? .null, "document": p["document"] ?? .null]
            }))
        }
        return router
    }

    /// The signed caller of `request` (see `RequestSignature`); `ownOrganisation` requires it to act
    /// for this node's organisation. Failures are thrown as 401 / 403 JSON errors.
    func caller(_ request: Request, body: [UInt8] = [], ownOrganisation: Bool = false) throws -> Caller {
        let c: Caller
        do { c = try auth.authenticate(request, body: body) } catch { throw HTTPError(error.status, message: error.message) }
        guard !ownOrganisation || c.org == node.org else { throw HTTPError(.forbidden, message: "\(c.id) does not act for \(node.org)") }
        return c
    }

    /// Runs the API on `host:port` until SIGTERM/SIGINT; `onRunning` gets the bound port. Requests are
    /// logged at debug level (method, path, status — never a body).
    public func run(host: String, port: Int, logger: Logger? = nil, onRunning: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let r = router()
        r.add(middleware: LogRequestsMiddleware(.debug))
        // Keep-alive connections (the coordinator reuses them for serial requests) close after 60 s idle.
        let app = Application(router: r, server: .http1(configuration: .init(idleTimeout: .seconds(60))),
                              configuration: .init(address: .hostname(host, port: port), serverName: "tally"),
                              onServerRunning: { channel in onRunning(channel.localAddress?.port ?? port) }, logger: logger)
        try await app.runService()
    }

    func statusJSON() -> JSON {
        let s = node.status
        var o: [String: JSON] = [
            "org": .string(node.org), "chain": .string(node.ledger.chain), "role": .string(s.role.rawValue),
            "term": .int(Int64(s.term)), "commit_index": .int(Int64(s.commit)), "applied_index": .int(Int64(s.applied)),
            "height": .int(node.ledger.height), "head": .string(node.ledger.head.hash.hex),
            "voters": .array(s.membership.voters.map { .string($0) }), "learners": .array(s.membership.learners.map { .string($0) }),
        ]
        if let l = s.leader {
            o["leader"] = .string(l)
            if let a = apiAddresses[l] { o["leader_api"] = .string(a) }
        }
        if let f = node.failure { o["failure"] = .string(f) }
        if let f = federation { o["pending_outcomes"] = .int(Int64(f.pendingOutcomes)) }
        return .object(o)
    }

    func receiptJSON(_ r: TransactionReceipt) -> JSON {
        ["status": "committed", "hash": .string(r.hash.hex), "height": .int(r.height), "index": .int(Int64(r.index)), "result": r.result]
    }

    func resultJSON(_ result: SubmitResult) -> JSON {
        switch result {
        case .committed(let r): return receiptJSON(r)
        case .refused(let e): return ["status": "refused", "error": .string(e.description)]
        case .notLeader: return ["status": "not_leader", "error": .string(result.description)]
        case .unknown(let m): return ["status": "unknown", "error": .string(m)]
        }
    }

    func response(for result: SubmitResult, serverMicros: UInt64? = nil) -> Response {
        switch result {
        case .committed(let r):
            let j = receiptJSON(r)
            return json(.ok, serverMicros.map { j.setting("server_us", .int(Int64($0))) } ?? j)
        case .refused(let e): return json(.unprocessableContent, ["status": "refused", "error": .string(e.description)])
        case .notLeader(let l):
            var o: [String: JSON] = ["status": "not_leader", "error": .string(result.description)]
            if let l {
                o["leader"] = .string(l)
                if let a = apiAddresses[l] { o["leader_api"] = .string(a) }
            }
            return json(.misdirectedRequest, .object(o))
        case .unknown(let m): return json(.serviceUnavailable, ["status": "unknown", "error": .string(m)])
        }
    }

    /// A JSON response. Every error body carries `error` (a message for people) and `code` (stable,
    /// for programs): given explicitly, or derived from the status.
    func json(_ status: HTTPResponse.Status, _ body: JSON) -> Response {
        var b = body
        if body["error"] != nil, body["code"] == nil { b = b.setting("code", .string(NodeAPI.code(for: status))) }
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: b.canonicalString + "\n")))
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: return "bad_request"
        case 401: return "unauthenticated"
        case 403: return "forbidden"
        case 404: return "not_found"
        case 405: return "method_not_allowed"
        case 408: return "timeout"
        case 413: return "too_large"
        case 421: return "not_leader"
        case 422: return "refused"
        case 503: return "unavailable"
        default: return status.code >= 500 ? "internal" : "error"
        }
    }
}

/// Turns every error a handler or the router throws (unknown path, body over its limit, …) into the
/// API's JSON error body; nothing escapes as an HTML page or a bare status.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let api: NodeAPI

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as HTTPError {
            let message = e.body ?? (e.status == .notFound ? "no such endpoint: \(request.method) \(request.uri.path) (see GET /openapi.json)" : e.status.reasonPhrase)
            return api.json(e.status, ["error": .string(message)])
        } catch {
            return api.json(.internalServerError, ["error": .string("internal error")])
        }
    }
}

/// Runs blocking work (waiting on commits, on other nodes) on a thread of its own (a parked worker when
/// one is free), so it never holds a Swift-concurrency or shared-pool thread.
func offload<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (c: CheckedContinuation<T, Never>) in
        Workers.shared.run { c.resume(returning: body()) }
    }
}
