import Foundation
import Ledger
#if canImport(Glibc)
import Glibc
#endif

/// A small blocking HTTP/1.1 client for the CLI, the coordinator and tests: IPv4/IPv6 literal or host
/// name, bounded by `timeout` on every socket wait and on the whole exchange, response bodies ≤ 64 MiB.
/// (FoundationNetworking's URLSession was tried first; on Linux it could spin and never return under
/// concurrent use.)
///
/// Connections are kept alive and reused (`ConnectionPool`): a federated query makes several serial
/// requests between the same nodes, and a fresh TCP connection and server channel per request cost
/// more than the request itself. An idle connection is reused only while young (well inside the
/// server's idle timeout) and only when it shows no sign of having been closed; a request whose reused
/// connection turns out dead before any answer arrived is sent once more on a new one.
public enum HTTP {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Returns the status code and body text.
    public static func request(_ method: String, _ hostPort: String, _ path: String, body: [UInt8]? = nil,
                               timeout: TimeInterval = 30, headers: [(String, String)] = []) throws -> (Int, String) {
        let (code, bytes) = try exchange(method, hostPort, path, body: body, timeout: timeout, headers: headers)
        return (code, String(decoding: bytes, as: UTF8.self))
    }

    /// A request signed as `identity` with `key` (`RequestSignature`), for endpoints that authenticate.
    public static func signed(_ method: String, _ hostPort: String, _ path: String, body: [UInt8]? = nil, identity: String, key: SigningKey,
                              timeout: TimeInterval = 30) throws -> (Int, String) {
        try request(method, hostPort, path, body: body, timeout: timeout,
                    headers: RequestSignature.headers(identity: identity, key: key, method: method, target: path, body: body ?? []))
    }

    /// Idle keep-alive connections, by `host:port`; bounded per host, reused only while young.
    static let pool = ConnectionPool()

    public static func exchange(_ method: String, _ hostPort: String, _ path: String, body: [UInt8]? = nil,
                                timeout: TimeInterval = 30, headers: [(String, String)] = []) throws -> (Int, [UInt8]) {
        guard let colon = hostPort.lastIndex(of: ":"), let port = UInt16(hostPort[hostPort.index(after: colon)...]) else {
            throw Failure(description: "bad address \(hostPort) (expected host:port)")
        }
        var host = String(hostPort[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let deadline = Date().addingTimeInterval(timeout)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(hostPort)\r\nUser-Agent: tally\r\n"
        for (name, value) in headers where !name.contains("\r") && !name.contains("\n") && !value.contains("\r") && !value.contains("\n") {
            head += "\(name): \(value)\r\n"
        }
        if let body {
            head += "Content-Type: application/octet-stream\r\nContent-Length: \(body.count)\r\n"
        } else if method != "GET" && method != "HEAD" {
            head += "Content-Length: 0\r\n"
        }
        head += "\r\n"
        let message = Array(head.utf8) + (body ?? [])
        // A reused connection the server has since closed fails before any answer byte arrives; then
        // (and only then) the request is sent once more on a fresh connection.
        if let fd = pool.take(hostPort) {
            switch try attempt(fd, message, noBody: method == "HEAD", hostPort: hostPort, deadline: deadline, timeout: timeout, reused: true) {
            case .answered(let status, let bytes): return (status, bytes)
            case .deadBeforeAnswer: break
            }
        }
        let fd = try connect(host: host, port: port, timeout: timeout)
        switch try attempt(fd, message, noBody: method == "HEAD", hostPort: hostPort, deadline: deadline, timeout: timeout, reused: false) {
        case .answered(let status, let bytes): return (status, bytes)
        case .deadBeforeAnswer: throw Failure(description: "\(hostPort) closed the connection without answering")
        }
    }

    enum Attempt {
        case answered(Int, [UInt8])
        /// The connection was found closed before any byte of an answer (only reported for reused ones).
        case deadBeforeAnswer
    }

    /// Sends `message` on `fd` and reads one response. Closes `fd`, or returns it to the pool when the
    /// response was read exactly to its end and the server keeps the connection open.
    static func attempt(_ fd: Int32, _ message: [UInt8], noBody: Bool, hostPort: String, deadline: Date, timeout: TimeInterval, reused: Bool) throws -> Attempt {
        var keep = false
        defer { if keep { pool.put(hostPort, fd) } else { close(fd) } }
        setTimeouts(fd, seconds: timeout)
        do { try sendAll(fd, message, host: hostPort) } catch { if reused { return .deadBeforeAnswer }; throw error }
        var buf: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        func fill() throws -> Bool {
            guard Date() < deadline else { throw Failure(description: "no answer from \(hostPort) within \(Int(timeout)) s") }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, 65536, 0) }
            if n < 0 {
                if errno == EINTR { return true }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw Failure(description: "no answer from \(hostPort) within \(Int(timeout)) s") }
                if reused, buf.isEmpty, errno == ECONNRESET || errno == EPIPE { throw DeadConnection() }
                throw Failure(description: "cannot read from \(hostPort): \(String(cString: strerror(errno)))")
            }
            if n == 0 { return false }
            buf.append(contentsOf: chunk[0..<n])
            guard buf.count <= 64 << 20 else { throw Failure(description: "answer from \(hostPort) exceeds 64 MiB") }
            return true
        }
        struct DeadConnection: Error {}
        var headerEnd: Int?
        do {
            while headerEnd == nil {
                headerEnd = find(buf, [13, 10, 13, 10])
                if headerEnd == nil, try !fill() {
                    if reused && buf.isEmpty { return .deadBeforeAnswer }
                    throw Failure(description: "\(hostPort) closed the connection without answering")
                }
            }
        } catch is DeadConnection { return .deadBeforeAnswer }
        let lines = String(decoding: buf[0..<headerEnd!], as: UTF8.self).split(separator: "\r\n")
        guard let status = lines.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw Failure(description: "malformed answer from \(hostPort)")
        }
        var length: Int?
        var chunked = false
        var closes = false
        for l in lines.dropFirst() {
            let parts = l.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = parts[0].lowercased(), value = parts[1].trimmingCharacters(in: .whitespaces).lowercased()
            if name == "content-length" { length = Int(value) }
            if name == "transfer-encoding", value.contains("chunked") { chunked = true }
            if name == "connection", value.contains("close") { closes = true }
        }
        let start = headerEnd! + 4
        if noBody || status == 204 || status == 304 || (100..<200).contains(status) {
            keep = !closes && buf.count == start
            return .answered(status, [])
        }
        if chunked {
            // Read chunk by chunk to the terminating zero-size chunk (and its blank line).
            var out: [UInt8] = []
            var at = start
            while true {
                var lineEnd = find(buf, [13, 10], from: at)
                while lineEnd == nil { guard try fill() else { throw Failure(description: "\(hostPort) cut a chunked answer short") }; lineEnd = find(buf, [13, 10], from: at) }
                let sizeText = String(decoding: buf[at..<lineEnd!], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0, size <= 64 << 20 else {
                    throw Failure(description: "malformed chunked answer from \(hostPort)")
                }
                at = lineEnd! + 2
                if size == 0 {
                    // Trailers (none expected) end with an empty line.
                    var end = find(buf, [13, 10], from: at)
                    while end == nil { guard try fill() else { break }; end = find(buf, [13, 10], from: at) }
                    keep = !closes && end.map { $0 + 2 == buf.count } == true
                    return .answered(status, out)
                }
                while buf.count < at + size + 2 { guard try fill() else { throw Failure(description: "\(hostPort) cut a chunked answer short") } }
                out += buf[at..<at + size]
                guard out.count <= 64 << 20 else { throw Failure(description: "answer from \(hostPort) exceeds 64 MiB") }
                at += size + 2
            }
        }
        if let length, length >= 0 {
            guard length <= 64 << 20 else { throw Failure(description: "answer from \(hostPort) exceeds 64 MiB") }
            while buf.count < start + length { guard try fill() else { throw Failure(description: "\(hostPort) cut its answer short") } }
            keep = !closes && buf.count == start + length
            return .answered(status, Array(buf[start..<start + length]))
        }
        // Neither length nor chunks: the body runs to the end of the connection.
        while try fill() {}
        return .answered(status, Array(buf[start...]))
    }

    static func connect(host: String, port: UInt16, timeout: TimeInterval) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &res) == 0, let ai = res else { throw Failure(description: "cannot resolve \(host)") }
        defer { freeaddrinfo(res) }
        let fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        setTimeouts(fd, seconds: timeout)
        guard Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "cannot reach \(host):\(port): \(e)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    static func setTimeouts(_ fd: Int32, seconds: TimeInterval) {
        let ms = Int(min(max(seconds, 0.001), 86_400) * 1000)
        var tv = timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8], host: String) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "cannot send to \(host): \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    static func find(_ b: [UInt8], _ p: [UInt8], from: Int = 0) -> Int? {
        guard b.count >= p.count else { return nil }
        var i = from
        while i <= b.count - p.count {
            if b[i] == p[0], Array(b[i..<i + p.count]) == p { return i }
            i += 1
        }
        return nil
    }
}

/// Idle keep-alive connections by `host:port`. A connection is handed out only if it has been idle for
/// less than `maxIdle` (the node's server closes idle connections after 60 s) and shows nothing to read
/// (a closed connection reads as end-of-file; stray bytes mean it cannot be trusted). At most
/// `perHost` idle connections are kept for each address; extras are closed.
final class ConnectionPool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [String: [(fd: Int32, since: DispatchTime)]] = [:]
    let perHost = 16
    let maxIdle: UInt64 = 20_000_000_000

    func take(_ key: String) -> Int32? {
        var stale: [Int32] = []
        defer { stale.forEach { close($0) } }
        return lock.withLock { () -> Int32? in
            // Read under the lock (every `since` was stamped under it too), and compared without a
            // subtraction that could trap: another thread may have parked a connection a moment ago.
            let now = DispatchTime.now().uptimeNanoseconds
            while var list = idle[key], let last = list.popLast() {
                idle[key] = list.isEmpty ? nil : list
                let since = last.since.uptimeNanoseconds
                if since >= now || now - since < maxIdle, ConnectionPool.looksOpen(last.fd) { return last.fd }
                stale.append(last.fd)
            }
            return nil
        }
    }

    func put(_ key: String, _ fd: Int32) {
        let extra: Int32? = lock.withLock {
            var list = idle[key] ?? []
            guard list.count < perHost else { return fd }
            list.append((fd, DispatchTime.now()))
            idle[key] = list
            return nil
        }
        if let extra { close(extra) }
    }

    /// Nothing to read and no hang-up: an idle HTTP connection's normal state.
    static func looksOpen(_ fd: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) == 0
    }
}
