import Consensus
import Foundation
import Hummingbird
import Ledger
import NIOCore
import Raft

/// The node's HTTP API (JSON), used by the CLI and other programs to reach a running node.
///
///     GET  /v1/status                 role, term, leader, commit/applied index, ledger height and head
///     POST /v1/transactions           one signed transaction (wire bytes, application/octet-stream);
///                                     waits for its block: 200 committed, 422 refused, 421 not the
///                                     leader (with the leader's API address), 503 outcome unknown
///     GET  /v1/transactions/{hash}    the receipt of a committed transaction (hex hash), or 404
///     GET  /v1/blocks/{height}        a block header and checkpoint (never transaction payloads)
///
/// Bounds: request bodies ≤ the consortium's transaction size limit; a submission waits ≤ 10 s.
public struct NodeAPI: Sendable {
    public let node: ClusterNode
    /// Each member's API address, so a follower can name where the leader listens.
    public let apiAddresses: [String: String]
    public var submitTimeout: TimeInterval = 10

    public init(node: ClusterNode, apiAddresses: [String: String]) {
        self.node = node
        self.apiAddresses = apiAddresses
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        let api = self
        router.get("/v1/status") { _, _ in api.json(.ok, api.statusJSON()) }
        router.post("/v1/transactions") { request, _ in
            let limit = Int(api.node.ledger.params.maxTransactionBytes) + 1024
            let body: ByteBuffer
            do { body = try await request.body.collect(upTo: limit) } catch {
                return api.json(.contentTooLarge, ["error": .string("transaction exceeds \(limit) bytes")])
            }
            let bytes = Array(body.readableBytesView)
            let node = api.node
            let timeout = api.submitTimeout
            let result = await withCheckedContinuation { (c: CheckedContinuation<SubmitResult, Never>) in
                DispatchQueue.global().async { c.resume(returning: node.submit(bytes, timeout: timeout)) }
            }
            return api.response(for: result)
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
        return router
    }

    /// Runs the API on `host:port` until SIGTERM/SIGINT; `onRunning` gets the bound port.
    public func run(host: String, port: Int, onRunning: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let app = Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "tally"),
                              onServerRunning: { channel in onRunning(channel.localAddress?.port ?? port) })
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
        return .object(o)
    }

    func receiptJSON(_ r: TransactionReceipt) -> JSON {
        ["status": "committed", "hash": .string(r.hash.hex), "height": .int(r.height), "index": .int(Int64(r.index)), "result": r.result]
    }

    func response(for result: SubmitResult) -> Response {
        switch result {
        case .committed(let r): return json(.ok, receiptJSON(r))
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

    func json(_ status: HTTPResponse.Status, _ body: JSON) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: body.canonicalString + "\n")))
    }
}
