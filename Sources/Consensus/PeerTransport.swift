import Crypto
import Foundation
import Ledger
#if canImport(Glibc)
import Glibc
#endif

public struct PeerAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }
    /// `host:port` or `[v6]:port`.
    public init?(_ s: String) {
        guard let colon = s.lastIndex(of: ":"), let p = UInt16(s[s.index(after: colon)...]) else { return nil }
        var h = String(s[..<colon])
        if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        guard !h.isEmpty else { return nil }
        self.init(host: h, port: p)
    }
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Authenticated, encrypted, bounded message passing between consortium nodes over TCP.
///
/// Each node dials every peer for its outgoing messages and accepts their connections for incoming
/// ones. A connection opens with a signed handshake: the dialer sends a hello naming the chain, itself,
/// the node it wants, a fresh X25519 ephemeral key and a nonce, signed with its organisation's Ed25519
/// key; the acceptor checks the signer is a current member (`trust`), and answers in kind, echoing the
/// nonce. Frames after that are sealed with ChaCha20-Poly1305 under a key derived from the ephemeral
/// exchange, with a counter nonce, so they can be neither forged, replayed nor read. Unknown or removed
/// members, wrong chains and bad signatures are refused before any payload is read.
///
/// Bounds: frames ≤ `maxFrameBytes`; each peer's outgoing queue ≤ `queueMessages` and `queueBytes`
/// (beyond that new messages are dropped and counted — Raft resends); ≤ `maxInbound` connections.
public final class PeerTransport: @unchecked Sendable {
    public struct Options: Sendable {
        public var maxFrameBytes = 64 << 20
        public var queueMessages = 4096
        public var queueBytes = 64 << 20
        public var maxInbound = 64
        public var handshakeTimeoutMillis = 3000
        public var idleTimeoutSeconds = 30
        public var maxBackoffMillis = 1000
        public init() {}
    }

    public struct Stats: Sendable {
        public var sent = 0, received = 0, dropped = 0, refusedHandshakes = 0, connects = 0
    }

    let chain: String
    let me: String
    let signing: SigningKey
    let listenAddress: PeerAddress
    let options: Options
    let trust: @Sendable (String) -> PublicSigningKey?
    let onReceive: @Sendable (String, PeerPayload) -> Void
    let log: @Sendable (String) -> Void

    private let lock = NSLock()
    private var peers: [String: PeerAddress]
    private var outbound: [String: Outbound] = [:]
    private var listenFD: Int32 = -1
    /// Signalled by the accept loop once it has closed the listening socket.
    private let acceptClosed = DispatchSemaphore(value: 0)
    private var inboundFDs = Set<Int32>()
    private var running = false
    private var _stats = Stats()

    public init(chain: String, me: String, signing: SigningKey, listen: PeerAddress, peers: [String: PeerAddress], options: Options = Options(),
                trust: @escaping @Sendable (String) -> PublicSigningKey?,
                onReceive: @escaping @Sendable (String, PeerPayload) -> Void,
                log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.chain = chain
        self.me = me
        self.signing = signing
        listenAddress = listen
        self.peers = peers.filter { $0.key != me }
        self.options = options
        self.trust = trust
        self.onReceive = onReceive
        self.log = log
    }

    public var stats: Stats { lock.withLock { _stats } }

    /// Binds and starts accepting; returns the bound port (useful with port 0).
    @discardableResult
    public func start() throws -> UInt16 {
        let (fd, port) = try Socket.listen(listenAddress)
        lock.withLock {
            listenFD = fd
            running = true
            for (id, addr) in peers { outbound[id] = Outbound(transport: self, peer: id, address: addr) }
        }
        for o in lock.withLock({ Array(outbound.values) }) { o.start() }
        let t = Thread { [self] in acceptLoop(fd) }
        t.name = "tally-peer-accept"
        t.start()
        return port
    }

    public func stop() {
        let (fd, outs, ins) = lock.withLock { () -> (Int32, [Outbound], Set<Int32>) in
            running = false
            let r = (listenFD, Array(outbound.values), inboundFDs)
            listenFD = -1
            outbound = [:]
            return r
        }
        // Shut, not closed: the accept loop closes it as it ends. Closed here, its number could be
        // reused by another socket before the loop's next `accept`, which would then take that
        // socket's connections.
        if fd >= 0 {
            _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
            acceptClosed.wait() // the port is free again when stop() returns
        }
        for o in outs { o.stop() }
        for f in ins { _ = Glibc.shutdown(f, Int32(SHUT_RDWR)) }
    }

    /// Queues `payload` for `peer`; never blocks. Returns false when the peer is unknown or its queue is full.
    @discardableResult
    public func send(to peer: String, _ payload: PeerPayload) -> Bool {
        guard let o = lock.withLock({ outbound[peer] }) else { return false }
        let ok = o.enqueue(payload.encoded)
        if !ok { lock.withLock { _stats.dropped += 1 } }
        return ok
    }

    func count(_ f: (inout Stats) -> Void) { lock.withLock { f(&_stats) } }
    var isRunning: Bool { lock.withLock { running } }

    // MARK: inbound

    private func acceptLoop(_ fd: Int32) {
        defer {
            Glibc.close(fd)
            acceptClosed.signal()
        }
        while isRunning {
            let c = Glibc.accept(fd, nil, nil)
            if c < 0 {
                if errno == EINTR { continue }
                if !isRunning { return }
                continue
            }
            let admitted = lock.withLock { () -> Bool in
                guard running, inboundFDs.count < options.maxInbound else { return false }
                inboundFDs.insert(c)
                return true
            }
            guard admitted else { Glibc.close(c); continue }
            let t = Thread { [weak self] in
                self?.serve(c)
                Glibc.close(c)
                _ = self?.lock.withLock { self?.inboundFDs.remove(c) }
            }
            t.name = "tally-peer-in"
            t.start()
        }
    }

    private func serve(_ fd: Int32) {
        Socket.setTimeout(fd, millis: options.handshakeTimeoutMillis)
        guard let (peer, key) = acceptHandshake(fd) else {
            count { $0.refusedHandshakes += 1 }
            return
        }
        Socket.setTimeout(fd, millis: options.idleTimeoutSeconds * 1000)
        var counter: UInt64 = 0
        while isRunning {
            guard let sealed = Socket.readFrame(fd, max: options.maxFrameBytes + 64) else { return }
            guard let plain = open(sealed, key: key, counter: counter) else {
                log("peer \(peer): frame failed authentication; closing")
                return
            }
            counter += 1
            guard let payload = try? PeerPayload(decoding: plain) else {
                log("peer \(peer): undecodable frame; closing")
                return
            }
            if case .raft(let m) = payload, m.from != peer || m.to != me {
                log("peer \(peer): message claims to be from \(m.from) to \(m.to); closing")
                return
            }
            count { $0.received += 1 }
            onReceive(peer, payload)
        }
    }

    private func acceptHandshake(_ fd: Int32) -> (String, SymmetricKey)? {
        guard let helloBytes = Socket.readFrame(fd, max: 4096), let hello = try? Hello(decoding: helloBytes) else { return nil }
        guard hello.chain == chain, hello.to == me, hello.echo.isEmpty else {
            log("refused a connection: hello for chain \(hello.chain) / node \(hello.to)")
            return nil
        }
        guard let pk = trust(hello.from), hello.verify(pk) else {
            log("refused a connection claiming to be \(hello.from): not a current member, or its signature does not verify")
            return nil
        }
        let eph = Curve25519.KeyAgreement.PrivateKey()
        var reply = Hello(chain: chain, from: me, to: hello.from, ephemeral: Array(eph.publicKey.rawRepresentation), nonce: SecureRandom.bytes(32), echo: hello.nonce)
        reply.sign(signing)
        guard Socket.writeFrame(fd, reply.encoded),
              let key = sessionKey(eph, peerEphemeral: hello.ephemeral, dialerNonce: hello.nonce, acceptorNonce: reply.nonce,
                                   dialer: hello.from, acceptor: me) else { return nil }
        return (hello.from, key)
    }

    // MARK: outbound

    /// Dials `peer` and runs the handshake; returns the session key, or nil.
    func dial(_ peer: String, _ address: PeerAddress) -> (Int32, SymmetricKey)? {
        guard let fd = Socket.connect(address, timeoutMillis: options.handshakeTimeoutMillis) else { return nil }
        Socket.setTimeout(fd, millis: options.handshakeTimeoutMillis)
        let eph = Curve25519.KeyAgreement.PrivateKey()
        var hello = Hello(chain: chain, from: me, to: peer, ephemeral: Array(eph.publicKey.rawRepresentation), nonce: SecureRandom.bytes(32), echo: [])
        hello.sign(signing)
        guard Socket.writeFrame(fd, hello.encoded), let rb = Socket.readFrame(fd, max: 4096), let reply = try? Hello(decoding: rb),
              reply.chain == chain, reply.from == peer, reply.to == me, reply.echo == hello.nonce,
              let pk = trust(peer), reply.verify(pk),
              let key = sessionKey(eph, peerEphemeral: reply.ephemeral, dialerNonce: hello.nonce, acceptorNonce: reply.nonce,
                                   dialer: me, acceptor: peer)
        else {
            Glibc.close(fd)
            return nil
        }
        Socket.setTimeout(fd, millis: options.idleTimeoutSeconds * 1000)
        count { $0.connects += 1 }
        return (fd, key)
    }

    private func sessionKey(_ eph: Curve25519.KeyAgreement.PrivateKey, peerEphemeral: [UInt8], dialerNonce: [UInt8], acceptorNonce: [UInt8],
                            dialer: String, acceptor: String) -> SymmetricKey? {
        guard let pk = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: peerEphemeral),
              let shared = try? eph.sharedSecretFromKeyAgreement(with: pk) else { return nil }
        return shared.hkdfDerivedSymmetricKey(using: SHA256.self, salt: dialerNonce + acceptorNonce,
                                              sharedInfo: Array("tally/peer/v1|\(chain)|\(dialer)>\(acceptor)".utf8), outputByteCount: 32)
    }

    func seal(_ plain: [UInt8], key: SymmetricKey, counter: UInt64) -> [UInt8]? {
        guard let nonce = try? ChaChaPoly.Nonce(data: counterNonce(counter)), let box = try? ChaChaPoly.seal(plain, using: key, nonce: nonce) else { return nil }
        return Array(box.ciphertext) + Array(box.tag)
    }

    private func open(_ sealed: [UInt8], key: SymmetricKey, counter: UInt64) -> [UInt8]? {
        guard sealed.count >= 16, let nonce = try? ChaChaPoly.Nonce(data: counterNonce(counter)),
              let box = try? ChaChaPoly.SealedBox(nonce: nonce, ciphertext: sealed.dropLast(16), tag: sealed.suffix(16)),
              let plain = try? ChaChaPoly.open(box, using: key) else { return nil }
        return Array(plain)
    }

    private func counterNonce(_ c: UInt64) -> [UInt8] {
        var n = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { n[4 + i] = UInt8(truncatingIfNeeded: c >> UInt64(56 - 8 * i)) }
        return n
    }
}

/// One peer's outgoing side: a bounded queue and a writer thread that (re)connects with backoff.
final class Outbound: @unchecked Sendable {
    weak var transport: PeerTransport?
    let peer: String
    let address: PeerAddress
    private let cond = NSCondition()
    private var queue: [[UInt8]] = []
    private var queuedBytes = 0
    private var stopped = false
    private var fd: Int32 = -1

    init(transport: PeerTransport, peer: String, address: PeerAddress) {
        self.transport = transport
        self.peer = peer
        self.address = address
    }

    func start() {
        let t = Thread { [self] in run() }
        t.name = "tally-peer-out"
        t.start()
    }

    func stop() {
        cond.withLock {
            stopped = true
            if fd >= 0 { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
            cond.broadcast()
        }
    }

    func enqueue(_ frame: [UInt8]) -> Bool {
        guard let t = transport else { return false }
        return cond.withLock {
            guard !stopped, queue.count < t.options.queueMessages, queuedBytes + frame.count <= t.options.queueBytes,
                  frame.count <= t.options.maxFrameBytes else { return false }
            queue.append(frame)
            queuedBytes += frame.count
            cond.signal()
            return true
        }
    }

    private func run() {
        var backoff = 20
        var key: SymmetricKey?
        var counter: UInt64 = 0
        while true {
            let next: [UInt8]? = cond.withLock {
                while queue.isEmpty && !stopped { cond.wait() }
                if stopped { return nil }
                let f = queue.removeFirst()
                queuedBytes -= f.count
                return f
            }
            guard let frame = next, let t = transport else { break }
            if key == nil {
                if let (f, k) = t.dial(peer, address) {
                    cond.withLock { fd = f }
                    key = k
                    counter = 0
                    backoff = 20
                } else {
                    // Peer unreachable: drop what is queued (Raft resends) and wait before trying again.
                    cond.withLock {
                        t.count { $0.dropped += queue.count + 1 }
                        queue.removeAll()
                        queuedBytes = 0
                        _ = cond.wait(until: Date().addingTimeInterval(Double(backoff) / 1000))
                    }
                    backoff = min(backoff * 2, t.options.maxBackoffMillis)
                    continue
                }
            }
            guard let sealed = t.seal(frame, key: key!, counter: counter), Socket.writeFrame(fd, sealed) else {
                cond.withLock {
                    if fd >= 0 { Glibc.close(fd) }
                    fd = -1
                }
                key = nil
                t.count { $0.dropped += 1 }
                continue
            }
            counter += 1
            t.count { $0.sent += 1 }
        }
        cond.withLock {
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }
}

/// The signed handshake message.
struct Hello {
    var chain: String
    var from: String
    var to: String
    var ephemeral: [UInt8]
    var nonce: [UInt8]
    var echo: [UInt8]
    var signature: [UInt8] = []

    init(chain: String, from: String, to: String, ephemeral: [UInt8], nonce: [UInt8], echo: [UInt8]) {
        self.chain = chain
        self.from = from
        self.to = to
        self.ephemeral = ephemeral
        self.nonce = nonce
        self.echo = echo
    }

    var signedBytes: [UInt8] {
        var w = WireWriter()
        w.string("tally/peer-hello/v1")
        w.string(chain)
        w.string(from)
        w.string(to)
        w.data(ephemeral)
        w.data(nonce)
        w.data(echo)
        return w.bytes
    }

    mutating func sign(_ key: SigningKey) {
        signature = Array((try? key.key.signature(for: signedBytes)) ?? Data())
    }

    func verify(_ key: PublicSigningKey) -> Bool {
        guard let pk = try? Curve25519.Signing.PublicKey(rawRepresentation: key.raw) else { return false }
        return pk.isValidSignature(signature, for: signedBytes)
    }

    var encoded: [UInt8] {
        var w = WireWriter()
        w.bytes = signedBytes
        w.data(signature)
        return w.bytes
    }

    init(decoding bytes: [UInt8]) throws {
        var r = WireReader(bytes)
        guard try r.string() == "tally/peer-hello/v1" else { throw WireError.malformed("not a hello") }
        chain = try r.string()
        from = try r.string()
        to = try r.string()
        ephemeral = try r.data()
        nonce = try r.data()
        echo = try r.data()
        signature = try r.data()
        guard r.atEnd, ephemeral.count == 32, nonce.count == 32 else { throw WireError.malformed("hello fields") }
    }
}

/// Thin POSIX socket helpers (blocking sockets, one thread per connection).
enum Socket {
    static func resolve(_ a: PeerAddress, passive: Bool) -> UnsafeMutablePointer<addrinfo>? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = passive ? AI_PASSIVE : 0
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(a.host, String(a.port), &hints, &res) == 0 else { return nil }
        return res
    }

    static func listen(_ a: PeerAddress) throws -> (Int32, UInt16) {
        guard let res = resolve(a, passive: true) else { throw TransportError("cannot resolve listen address \(a)") }
        defer { freeaddrinfo(res) }
        let fd = socket(res.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TransportError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, res.pointee.ai_addr, res.pointee.ai_addrlen) == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw TransportError("cannot listen on \(a): \(e)")
        }
        guard Glibc.listen(fd, 64) == 0 else { close(fd); throw TransportError("listen: \(String(cString: strerror(errno)))") }
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let port = withUnsafeMutablePointer(to: &storage) { p -> UInt16 in
            _ = p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
            if Int32(p.pointee.ss_family) == AF_INET6 {
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
            return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
        return (fd, port)
    }

    static func connect(_ a: PeerAddress, timeoutMillis: Int) -> Int32? {
        guard let res = resolve(a, passive: false) else { return nil }
        defer { freeaddrinfo(res) }
        let fd = socket(res.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        setTimeout(fd, millis: timeoutMillis)
        guard Glibc.connect(fd, res.pointee.ai_addr, res.pointee.ai_addrlen) == 0 else {
            close(fd)
            return nil
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    static func setTimeout(_ fd: Int32, millis: Int) {
        var tv = timeval(tv_sec: millis / 1000, tv_usec: (millis % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    static func readFull(_ fd: Int32, _ n: Int) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let r = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, n - got, 0) }
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { return nil }
            got += r
        }
        return buf
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let r = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { return false }
            sent += r
        }
        return true
    }

    static func readFrame(_ fd: Int32, max: Int) -> [UInt8]? {
        guard let h = readFull(fd, 4) else { return nil }
        let n = h.reduce(0) { $0 << 8 | Int($1) }
        guard n <= max else { return nil }
        return n == 0 ? [] : readFull(fd, n)
    }

    static func writeFrame(_ fd: Int32, _ payload: [UInt8]) -> Bool {
        let n = UInt32(payload.count)
        return writeAll(fd, [UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)] + payload)
    }
}

public struct TransportError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// Free TCP ports on 127.0.0.1, for starting a local consortium (`tally demo`, tests): binds `n`
/// sockets to port 0 at once, notes the ports, and releases them.
public enum LoopbackPorts {
    public static func reserve(_ n: Int) throws -> [UInt16] {
        var fds: [Int32] = []
        defer { fds.forEach { close($0) } }
        var ports: [UInt16] = []
        for _ in 0..<n {
            let (fd, port) = try Socket.listen(PeerAddress(host: "127.0.0.1", port: 0))
            fds.append(fd)
            ports.append(port)
        }
        return ports
    }
}
