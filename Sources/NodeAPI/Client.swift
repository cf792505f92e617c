import Foundation
import Ledger
#if canImport(Glibc)
import Glibc
#endif

/// A small blocking HTTP/1.1 client for the CLI, the coordinator and tests: one connection per request
/// (`Connection: close`), IPv4/IPv6 literal or host name, bounded by `timeout` on every socket wait and
/// on the whole exchange, response bodies ≤ 64 MiB. (FoundationNetworking's URLSession was tried first;
/// on Linux it could spin and never return under concurrent use.)
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

    public static func exchange(_ method: String, _ hostPort: String, _ path: String, body: [UInt8]? = nil,
                                timeout: TimeInterval = 30, headers: [(String, String)] = []) throws -> (Int, [UInt8]) {
        guard let colon = hostPort.lastIndex(of: ":"), let port = UInt16(hostPort[hostPort.index(after: colon)...]) else {
            throw Failure(description: "bad address \(hostPort) (expected host:port)")
        }
        var host = String(hostPort[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let deadline = Date().addingTimeInterval(timeout)
        let fd = try connect(host: host, port: port, timeout: timeout)
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(hostPort)\r\nConnection: close\r\nUser-Agent: tally\r\n"
        for (name, value) in headers where !name.contains("\r") && !name.contains("\n") && !value.contains("\r") && !value.contains("\n") {
            head += "\(name): \(value)\r\n"
        }
        if let body {
            head += "Content-Type: application/octet-stream\r\nContent-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        try sendAll(fd, Array(head.utf8) + (body ?? []), host: hostPort)
        var buf: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        func fill() throws -> Bool {
            guard Date() < deadline else { throw Failure(description: "no answer from \(hostPort) within \(Int(timeout)) s") }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, 65536, 0) }
            if n < 0 {
                if errno == EINTR { return true }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw Failure(description: "no answer from \(hostPort) within \(Int(timeout)) s") }
                throw Failure(description: "cannot read from \(hostPort): \(String(cString: strerror(errno)))")
            }
            if n == 0 { return false }
            buf.append(contentsOf: chunk[0..<n])
            guard buf.count <= 64 << 20 else { throw Failure(description: "answer from \(hostPort) exceeds 64 MiB") }
            return true
        }
        var headerEnd: Int?
        while headerEnd == nil {
            headerEnd = find(buf, [13, 10, 13, 10])
            if headerEnd == nil, try !fill() { throw Failure(description: "\(hostPort) closed the connection without answering") }
        }
        let lines = String(decoding: buf[0..<headerEnd!], as: UTF8.self).split(separator: "\r\n")
        guard let status = lines.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw Failure(description: "malformed answer from \(hostPort)")
        }
        var length: Int?
        var chunked = false
        for l in lines.dropFirst() {
            let parts = l.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = parts[0].lowercased(), value = parts[1].trimmingCharacters(in: .whitespaces)
            if name == "content-length" { length = Int(value) }
            if name == "transfer-encoding", value.lowercased().contains("chunked") { chunked = true }
        }
        let start = headerEnd! + 4
        if let length, !chunked {
            while buf.count < start + length { if try !fill() { break } }
            return (status, Array(buf[start..<min(buf.count, start + length)]))
        }
        while try fill() {}
        let rest = Array(buf[start...])
        return (status, chunked ? dechunk(rest) : rest)
    }

    static func connect(host: String, port: UInt16, timeout: TimeInterval) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &res) == 0, let ai = res else { throw Failure(description: "cannot resolve \(host)") }
        defer { freeaddrinfo(res) }
        let fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        let ms = Int(max(timeout, 0.001) * 1000)
        var tv = timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "cannot reach \(host):\(port): \(e)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
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

    static func find(_ b: [UInt8], _ p: [UInt8]) -> Int? {
        guard b.count >= p.count else { return nil }
        var i = 0
        while i <= b.count - p.count {
            if b[i] == p[0], Array(b[i..<i + p.count]) == p { return i }
            i += 1
        }
        return nil
    }

    static func dechunk(_ b: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var at = 0
        while at < b.count, let lineEnd = find(Array(b[at...]), [13, 10]) {
            let sizeText = String(decoding: b[at..<at + lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size > 0 else { break }
            at += lineEnd + 2
            guard at + size <= b.count else { break }
            out += b[at..<at + size]
            at += size + 2
        }
        return out
    }
}
