import Consensus
import Crypto
import Dispatch
import Foundation
import Ledger
import Node
#if canImport(Glibc)
import Glibc
#endif

// `TallyBench cluster`: three `tally node start` processes on loopback, loaded over HTTP with
// pre-signed transactions; in the same run, a three-member etcd cluster on loopback loaded with puts
// by the same client, and the all-core Ed25519 verification rate that bounds a replicated ledger on
// this machine (every replica checks every signature).

/// A minimal HTTP/1.1 keep-alive client: one connection, one request at a time (what a load
/// generator needs, with identical cost on both systems under test).
final class KeepAliveHTTP {
    let host: String
    let port: UInt16
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []

    init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    deinit { if fd >= 0 { close(fd) } }

    private func connect() -> Bool {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr(host)
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        buffer = []
        return ok
    }

    func post(_ path: String, contentType: String, body: [UInt8]) -> Int? { request("POST", path, contentType: contentType, body: body)?.0 }

    func get(_ path: String) -> (Int, String)? {
        request("GET", path, contentType: "text/plain", body: []).map { ($0.0, String(decoding: $0.1, as: UTF8.self)) }
    }

    /// Sends one request; returns the status code and body (nil on a connection failure).
    func request(_ method: String, _ path: String, contentType: String, body: [UInt8]) -> (Int, [UInt8])? {
        if fd < 0, !connect() { close(fd); fd = -1; return nil }
        let head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n\r\n"
        let req = Array(head.utf8) + body
        var sent = 0
        while sent < req.count {
            let n = req.withUnsafeBytes { send(fd, $0.baseAddress! + sent, req.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { reset(); return nil }
            sent += n
        }
        // Headers, then Content-Length bytes of body.
        var headerEnd: Int?
        while headerEnd == nil {
            if let r = find([13, 10, 13, 10]) { headerEnd = r; break }
            guard fill() else { reset(); return nil }
        }
        let headText = String(decoding: buffer[0..<headerEnd!], as: UTF8.self)
        let lines = headText.split(separator: "\r\n")
        guard let status = lines.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { reset(); return nil }
        var length = 0
        for l in lines.dropFirst() where l.lowercased().hasPrefix("content-length:") {
            length = Int(l.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0
        }
        let total = headerEnd! + 4 + length
        while buffer.count < total { guard fill() else { reset(); return nil } }
        let responseBody = Array(buffer[(headerEnd! + 4)..<total])
        buffer.removeFirst(total)
        return (status, responseBody)
    }

    private func find(_ pattern: [UInt8]) -> Int? {
        guard buffer.count >= pattern.count else { return nil }
        for i in 0...(buffer.count - pattern.count) where buffer[i] == pattern[0] && Array(buffer[i..<i + pattern.count]) == pattern { return i }
        return nil
    }

    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, 65536, 0) }
        guard n > 0 else { return false }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    private func reset() {
        if fd >= 0 { close(fd) }
        fd = -1
        buffer = []
    }
}

struct LoadResult {
    var ok = 0
    var failed = 0
    var seconds = 0.0
    var latencies: [Double] = []
    var rate: Double { Double(ok) / seconds }
    func percentile(_ p: Double) -> Double {
        guard !latencies.isEmpty else { return .nan }
        let s = latencies.sorted()
        return s[min(s.count - 1, Int(Double(s.count) * p))] * 1000
    }
}

/// Runs `connections` closed-loop clients for `duration` seconds; `request(i)` sends the i-th request
/// on a connection and says whether it succeeded.
func closedLoop(connections: Int, duration: Double, makeClient: (Int) -> KeepAliveHTTP, request: @escaping @Sendable (KeepAliveHTTP, Int) -> Bool) -> LoadResult {
    let clients = (0..<connections).map(makeClient)
    let lock = NSLock()
    let box = LoadBox()
    let counter = Counter()
    let t0 = Date()
    let deadline = t0.addingTimeInterval(duration)
    // One thread per connection (concurrentPerform would run only as many as there are cores).
    let group = DispatchGroup()
    for c in 0..<connections {
        group.enter()
        Thread {
        defer { group.leave() }
        var lat: [Double] = []
        var ok = 0, failed = 0
        while Date() < deadline {
            let i = counter.next()
            let s = DispatchTime.now().uptimeNanoseconds
            if request(clients[c], i) {
                ok += 1
                lat.append(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e9)
            } else {
                failed += 1
            }
        }
        lock.withLock {
            box.value.ok += ok
            box.value.failed += failed
            box.value.latencies += lat
        }
        }.start()
    }
    group.wait()
    var result = box.value
    result.seconds = Date().timeIntervalSince(t0)
    return result
}

final class LoadBox: @unchecked Sendable { var value = LoadResult() }

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func next() -> Int { lock.withLock { defer { n += 1 }; return n } }
}

/// Spawns a process with stdout to a file; returns it.
func spawn(_ exe: String, _ args: [String], log: String) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    FileManager.default.createFile(atPath: log, contents: nil)
    let h = FileHandle(forWritingAtPath: log)!
    p.standardOutput = h
    p.standardError = h
    try p.run()
    return p
}

/// CPU seconds (user + system) a process has used so far, from `/proc/PID/stat`; 0 if unreadable.
func cpuSeconds(_ pid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return 0 }
    // Fields after the command name: state is field 3, utime 14, stime 15.
    let f = text[text.index(after: close)...].split(separator: " ")
    guard f.count > 12, let u = Double(f[11]), let s = Double(f[12]) else { return 0 }
    return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Runs `body` and returns the CPU seconds `pids` used meanwhile (`getpid()` for this process).
func cpuDuring<T>(_ pids: [Int32], _ body: () throws -> T) rethrows -> (T, Double) {
    let before = pids.map(cpuSeconds)
    let r = try body()
    let after = pids.map(cpuSeconds)
    return (r, zip(after, before).map { $0 - $1 }.reduce(0, +))
}

func waitFor(_ seconds: Double, _ cond: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end { if cond() { return true }; usleep(50_000) }
    return cond()
}

func clusterBenchmark(duration: Double, connections: Int) throws {
    let tally = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tally").path
    guard FileManager.default.isExecutableFile(atPath: tally) else {
        print("build the node binary first: swift build -c release --product tally")
        exit(2)
    }
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("tally-cluster-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    let cores = ProcessInfo.processInfo.activeProcessorCount

    // 1. The signature ceiling: all-core Ed25519 verification rate, shared by three replicas.
    let key = SigningKey()
    let msgs = (0..<4000).map { i in Array("bench-\(i)".utf8) }
    let sigs = msgs.map { Array(try! key.key.signature(for: $0)) }
    let pk = key.key.publicKey
    let verifyRounds = 5
    let me = getpid()
    let (tv, verifyCPU) = cpuDuring([me]) {
        seconds {
            DispatchQueue.concurrentPerform(iterations: cores) { c in
                for _ in 0..<verifyRounds { for i in stride(from: c, to: msgs.count, by: cores) { precondition(pk.isValidSignature(sigs[i], for: msgs[i])) } }
            }
        }
    }
    let verifyRate = Double(msgs.count * verifyRounds) / tv
    /// CPU microseconds one Ed25519 verification costs (process CPU time, so a VM's stolen time is not in it).
    let verifyMicros = verifyCPU * 1e6 / Double(msgs.count * verifyRounds)
    let ceiling = verifyRate / 3

    // 2. Tally: three hospital nodes.
    let orgs = ["hospital-a", "hospital-b", "hospital-c"]
    var dirs: [String: NodeDirectory] = [:]
    var members: [Member] = []
    for o in orgs {
        dirs[o] = try NodeDirectory.create(at: root.appendingPathComponent(o).path, org: o, kind: .hospital)
        members.append(try dirs[o]!.member())
    }
    var params = ConsortiumParams()
    params.maxBlockTransactions = 2000
    let genesis = Genesis(chain: "cluster-bench", time: Clock.wallMillis() - 1000, params: params, members: members)
    let secret = NodeDirectory.randomSecret()
    for o in orgs { try dirs[o]!.join(genesis: genesis, consortiumSecret: secret) }
    let ports = try LoopbackPorts.reserve(6)
    var procs: [Process] = []
    for (i, o) in orgs.enumerated() {
        var args = ["node", "start", "--dir", dirs[o]!.url.path, "--listen", "127.0.0.1:\(ports[i])", "--api", "127.0.0.1:\(ports[3 + i])"]
        for (j, p) in orgs.enumerated() where p != o { args += ["--peer", "\(p)=127.0.0.1:\(ports[j])/127.0.0.1:\(ports[3 + j])"] }
        procs.append(try spawn(tally, args, log: root.appendingPathComponent("\(o).log").path))
    }
    defer { for p in procs where p.isRunning { kill(p.processIdentifier, SIGTERM); p.waitUntilExit() } }
    var leaderPort: UInt16 = 0
    guard waitFor(30, {
        for i in 0..<3 {
            let c = KeepAliveHTTP(host: "127.0.0.1", port: ports[3 + i])
            if let (code, body) = c.get("/v1/status"), code == 200, body.contains("\"role\":\"leader\"") { leaderPort = ports[3 + i]; return true }
        }
        return false
    }) else { print("no Tally leader elected"); exit(1) }

    // Pre-signed transactions (signing is the client's cost, not the ledger's).
    let signer = TransactionSigner(chain: genesis.chain, identity: "hospital-a", key: try dirs["hospital-a"]!.keys().signing)
    let needed = Int(max(20_000, ceiling * duration * 1.5))
    var txs = [[UInt8]](repeating: [], count: needed)
    let userKey = SigningKey().publicKey.base64
    let signed = seconds {
        for i in 0..<needed { txs[i] = signer.sign("identity.enroll", ["name": .string("u\(i)"), "role": "physician", "key": .string(userKey)]).bytes }
    }
    _ = signed
    let pool = txs
    let nodePIDs = procs.map(\.processIdentifier)
    let ((tallyLoad, tallyClientCPU), tallyNodeCPU) = cpuDuring(nodePIDs) {
        cpuDuring([me]) {
            closedLoop(connections: connections, duration: duration, makeClient: { _ in KeepAliveHTTP(host: "127.0.0.1", port: leaderPort) }) { client, i in
                guard i < pool.count else { return false }
                return client.post("/v1/transactions", contentType: "application/octet-stream", body: pool[i]) == 200
            }
        }
    }
    for p in procs { kill(p.processIdentifier, SIGTERM); p.waitUntilExit() }

    // 3. etcd: three members on loopback, same client, puts through the v3 JSON gateway.
    var etcdLoad: LoadResult?
    var etcdNodeCPU = 0.0, etcdClientCPU = 0.0
    if FileManager.default.isExecutableFile(atPath: "/usr/bin/etcd") {
        let ep = try LoopbackPorts.reserve(6)
        let cluster = (0..<3).map { "e\($0)=http://127.0.0.1:\(ep[$0])" }.joined(separator: ",")
        var eprocs: [Process] = []
        for i in 0..<3 {
            eprocs.append(try spawn("/usr/bin/etcd", [
                "--name", "e\(i)", "--data-dir", root.appendingPathComponent("etcd\(i)").path,
                "--listen-peer-urls", "http://127.0.0.1:\(ep[i])", "--initial-advertise-peer-urls", "http://127.0.0.1:\(ep[i])",
                "--listen-client-urls", "http://127.0.0.1:\(ep[3 + i])", "--advertise-client-urls", "http://127.0.0.1:\(ep[3 + i])",
                "--initial-cluster", cluster, "--initial-cluster-state", "new", "--initial-cluster-token", "bench",
            ], log: root.appendingPathComponent("etcd\(i).log").path))
        }
        defer { for p in eprocs where p.isRunning { kill(p.processIdentifier, SIGTERM); p.waitUntilExit() } }
        let payload = String(repeating: "x", count: 256) // about a signed transaction's size
        let value = Data(payload.utf8).base64EncodedString()
        var etcdLeader: UInt16 = ep[3]
        _ = waitFor(30) {
            for i in 0..<3 {
                let c = KeepAliveHTTP(host: "127.0.0.1", port: ep[3 + i])
                if c.post("/v3/kv/put", contentType: "application/json", body: Array("{\"key\":\"cHJvYmU=\",\"value\":\"eA==\"}".utf8)) == 200 {
                    etcdLeader = ep[3 + i]
                    return true
                }
            }
            return false
        }
        ((etcdLoad, etcdClientCPU), etcdNodeCPU) = cpuDuring(eprocs.map(\.processIdentifier)) {
            cpuDuring([me]) {
                closedLoop(connections: connections, duration: duration, makeClient: { _ in KeepAliveHTTP(host: "127.0.0.1", port: etcdLeader) }) { client, i in
                    let k = Data("key-\(i)".utf8).base64EncodedString()
                    return client.post("/v3/kv/put", contentType: "application/json", body: Array("{\"key\":\"\(k)\",\"value\":\"\(value)\"}".utf8)) == 200
                }
            }
        }
    }

    print("Tally cluster benchmark — release build, 3 voting nodes on loopback (separate processes), \(connections) HTTP clients, \(Int(duration)) s, \(cores) cores")
    print("figure                                               value        baseline (same run)              ratio")
    print(String(format: "committed signed tx/s (Tally, via HTTP)          %9.0f     Ed25519 ceiling ÷ 3 replicas %7.0f   %5.2f×", tallyLoad.rate, ceiling, tallyLoad.rate / ceiling))
    if let e = etcdLoad {
        print(String(format: "committed writes/s (Tally vs etcd 3.4 puts)      %9.0f     etcd puts/s                  %7.0f   %5.2f×", tallyLoad.rate, e.rate, tallyLoad.rate / e.rate))
        print(String(format: "commit latency p50 / p99 ms (Tally)            %5.1f / %5.1f   etcd p50 / p99 ms         %5.1f / %5.1f", tallyLoad.percentile(0.5), tallyLoad.percentile(0.99), e.percentile(0.5), e.percentile(0.99)))
    } else {
        print(String(format: "commit latency p50 / p99 ms (Tally)            %5.1f / %5.1f   (etcd not installed: apt-get install etcd-server etcd-client)", tallyLoad.percentile(0.5), tallyLoad.percentile(0.99)))
    }
    print(String(format: "Ed25519 verifications/s, all %d cores          %9.0f", cores, verifyRate))
    print("failed requests: Tally \(tallyLoad.failed), etcd \(etcdLoad?.failed ?? 0)")

    // Where the CPU went, per committed write (process CPU time: the VM's stolen time is not in it).
    func perWrite(_ cpu: Double, _ load: LoadResult?) -> Double { load.map { cpu * 1e6 / Double(max($0.ok, 1)) } ?? .nan }
    let tallyNodes = perWrite(tallyNodeCPU, tallyLoad), etcdNodes = perWrite(etcdNodeCPU, etcdLoad)
    print("")
    print("CPU per committed write, µs (process CPU time)     Tally      etcd")
    print(String(format: "  the three nodes                               %7.0f   %7.0f", tallyNodes, etcdNodes))
    print(String(format: "    of which 3 Ed25519 verifications            %7.0f         0", 3 * verifyMicros))
    print(String(format: "    everything else                             %7.0f   %7.0f", tallyNodes - 3 * verifyMicros, etcdNodes))
    print(String(format: "  the load generator                            %7.0f   %7.0f", perWrite(tallyClientCPU, tallyLoad), perWrite(etcdClientCPU, etcdLoad)))
    // The most any replicated ledger with three verifying replicas could do here: all cores verifying.
    let budget5000 = Double(cores) * 1e6 / 5000
    print(String(format: "  budget for 5,000 writes/s on %d cores: %.0f µs per write; after 3 verifications %.0f µs for everything else",
                 cores, budget5000, budget5000 - 3 * verifyMicros))
}
