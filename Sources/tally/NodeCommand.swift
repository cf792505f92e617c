import ArgumentParser
import Consensus
import DeidSQL
import Dispatch
import Foundation
import Logging
import Ledger
import Node
import NodeAPI
import Raft

struct NodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run this organisation's node in a replicated consortium.",
        subcommands: [Start.self, Status.self, Submit.self]
    )

    /// DIR/cluster.json: where this node listens and where its peers are.
    struct ClusterConfig {
        var listen: String
        var api: String
        var peers: [String: (raft: String, api: String)]

        var json: JSON {
            .object(["listen": .string(listen), "api": .string(api),
                     "peers": .object(peers.mapValues { .object(["raft": .string($0.raft), "api": .string($0.api)]) })])
        }

        init(listen: String, api: String, peers: [String: (raft: String, api: String)]) {
            self.listen = listen
            self.api = api
            self.peers = peers
        }

        init(json: JSON) throws {
            guard let l = json["listen"]?.stringValue, let a = json["api"]?.stringValue else { throw CLIError("cluster.json needs listen and api") }
            listen = l
            api = a
            peers = [:]
            for (id, p) in json["peers"]?.objectValue ?? [:] {
                guard let r = p["raft"]?.stringValue, let pa = p["api"]?.stringValue else { throw CLIError("cluster.json: peer \(id) needs raft and api") }
                peers[id] = (r, pa)
            }
        }
    }

    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "start",
            abstract: "Start the node: Raft replication with its peers and the HTTP API; runs until SIGTERM or SIGINT.",
            discussion: """
            The first start names the addresses; they are saved in DIR/cluster.json for later starts:
              tally node start --dir hospital-a --listen 127.0.0.1:7101 --api 127.0.0.1:8101 \\
                  --peer hospital-b=127.0.0.1:7102/127.0.0.1:8102 --peer hospital-c=127.0.0.1:7103/127.0.0.1:8103
              tally node start --dir hospital-a
            Peers authenticate each other with their organisations' keys from the ledger's member list.
            """
        )
        @Option(help: "Node directory (from `tally init`).") var dir: String
        @Option(help: "Peer (Raft) listen address, host:port.") var listen: String?
        @Option(help: "HTTP API listen address, host:port.") var api: String?
        @Option(help: "A peer: ORG=RAFT_HOST:PORT/API_HOST:PORT (repeat for each).") var peer: [String] = []
        @Option(help: "Milliseconds per Raft tick (election timeout is 10 ticks).") var tickMillis: Int = 50
        @Option(help: "Directory of value sets for VALUESET(...) in queries (default: Queries/valuesets if present).") var valuesets: String?
        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. No level logs health data.") var logLevel: String = "info"

        func run() throws {
            do {
                let nd = try NodeDirectory(dir)
                let configPath = nd.url.appendingPathComponent("cluster.json").path
                var cfg: ClusterConfig
                if let listen, let api {
                    var peers: [String: (raft: String, api: String)] = [:]
                    for p in peer {
                        let parts = p.split(separator: "=", maxSplits: 1)
                        let addrs = parts.count == 2 ? parts[1].split(separator: "/") : []
                        guard addrs.count == 2 else { throw CLIError("--peer \(p): expected ORG=RAFT_HOST:PORT/API_HOST:PORT") }
                        peers[String(parts[0])] = (String(addrs[0]), String(addrs[1]))
                    }
                    cfg = ClusterConfig(listen: listen, api: api, peers: peers)
                    try Data((cfg.json.pretty() + "\n").utf8).write(to: URL(fileURLWithPath: configPath), options: .atomic)
                } else if listen != nil || api != nil {
                    throw CLIError("give both --listen and --api, or neither (to reuse \(configPath))")
                } else {
                    guard let d = FileManager.default.contents(atPath: configPath) else {
                        throw CLIError("no \(configPath); give --listen, --api and --peer on the first start")
                    }
                    cfg = try ClusterConfig(json: JSON.parse(Array(d)))
                }
                guard let listenAddr = PeerAddress(cfg.listen) else { throw CLIError("bad --listen address \(cfg.listen)") }
                var peers: [String: PeerAddress] = [:]
                for (id, p) in cfg.peers {
                    guard let a = PeerAddress(p.raft) else { throw CLIError("bad address for peer \(id): \(p.raft)") }
                    peers[id] = a
                }
                guard let apiAddr = PeerAddress(cfg.api) else { throw CLIError("bad --api address \(cfg.api)") }
                let keys = try nd.keys()
                let ledger = try nd.openLedger()
                var options = ClusterNode.Options()
                options.tickMillis = max(5, tickMillis)
                let org = nd.org
                guard let level = Logger.Level(rawValue: logLevel) else { throw CLIError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
                LoggingSystem.bootstrap { label in
                    var h = StreamLogHandler.standardError(label: label)
                    h.logLevel = level
                    return h
                }
                var logger = Logger(label: "tally.node")
                logger[metadataKey: "org"] = .string(org)
                let log: @Sendable (String) -> Void = { [logger] in logger.info("\($0)") }
                let node = try ClusterNode(ledger: ledger, keys: keys, raftPath: nd.url.appendingPathComponent("raft.sqlite").path,
                                           listen: listenAddr, peers: peers, options: options, log: log)
                var apis = cfg.peers.mapValues(\.api)
                apis[org] = cfg.api
                let vsDir = valuesets ?? (FileManager.default.fileExists(atPath: "Queries/valuesets") ? "Queries/valuesets" : nil)
                let sets = try vsDir.map { try QueryChecker.loadValueSets(directory: $0) } ?? [:]
                let fed = try FederationServices(node: node, keys: keys, viewsPath: nd.viewsPath, valueSets: sets, apiAddresses: apis, log: log)
                node.onBlock = { [weak fed] in fed?.blockCommitted() }
                let raftPort = try node.start()
                fed.startFollowing()
                defer { fed.stop() }
                let queries = vsDir.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
                let pages = ConsolePages(token: try ConsolePages.token(in: nd.url), queriesDirectory: queries,
                                         resultsPath: nd.url.appendingPathComponent("results.sqlite").path)
                var api = NodeAPI(node: node, apiAddresses: apis, federation: fed, pages: pages)
                api.directory = nd.url.path
                let done = DispatchSemaphore(value: 0)
                let failure = FailureBox()
                Task {
                    do {
                        var httpLogger = Logger(label: "tally.api")
                        httpLogger[metadataKey: "org"] = .string(org)
                        try await api.run(host: apiAddr.host, port: Int(apiAddr.port), logger: httpLogger) { port in
                            print("ready: \(org) raft=\(listenAddr.host):\(raftPort) api=\(apiAddr.host):\(port) height=\(ledger.height)")
                            print("console: http://\(apiAddr.host):\(port)/ (votes need the token in \(nd.url.appendingPathComponent("keys/console.token").path))")
                            fflush(stdout)
                        }
                    } catch { failure.set("\(error)") }
                    done.signal()
                }
                done.wait()
                node.stop()
                if let f = failure.value { throw CLIError("API server: \(f)") }
                print("stopped: \(org) height=\(ledger.height)")
            } catch let e as CLIError { throw fail(e.description) } catch let e as NodeDirectory.Error { throw fail(e.description) }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "status", abstract: "Print a running node's status (GET /v1/status).")
        @Option(help: "The node's API address, host:port.") var api: String
        func run() throws {
            let (code, body) = try HTTP.request("GET", api, "/v1/status")
            print(body, terminator: "")
            if code != 200 { throw ExitCode(1) }
        }
    }

    struct Submit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "submit",
            abstract: "Send signed transaction files (wire bytes) to a running node and print each outcome.",
            discussion: "Follows a not-the-leader answer to the leader's API address once per transaction."
        )
        @Option(help: "A node's API address, host:port.") var api: String
        @Argument(help: "Transaction files.") var files: [String]
        func run() throws {
            var failed = false
            for f in files {
                guard let d = FileManager.default.contents(atPath: f) else { throw fail("cannot read \(f)") }
                var (code, body) = try HTTP.request("POST", api, "/v1/transactions", body: Array(d))
                if code == 421, let leader = (try? JSON.parse(Array(body.utf8)))?["leader_api"]?.stringValue {
                    (code, body) = try HTTP.request("POST", leader, "/v1/transactions", body: Array(d))
                }
                print("\(f): \(body)", terminator: "")
                failed = failed || code != 200
            }
            if failed { throw ExitCode(1) }
        }
    }
}

final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var v: String?
    var value: String? { lock.withLock { v } }
    func set(_ s: String) { lock.withLock { v = s } }
}
