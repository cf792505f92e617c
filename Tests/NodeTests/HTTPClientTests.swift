import Foundation
@testable import NodeAPI
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The blocking HTTP client's keep-alive pool against a scripted loopback server: connections are
/// reused, a connection the server closed is replaced without failing the request, chunked answers are
/// read to their end, and `Connection: close` is honoured.
@Suite struct HTTPClientTests {
    /// A one-thread loopback server. `answer(n, connection, request)` returns the raw response for the
    /// n-th request overall and whether to close the connection after it.
    final class ScriptedServer: @unchecked Sendable {
        let fd: Int32
        let port: UInt16
        private let lock = NSLock()
        private var _accepted = 0
        private var served = 0
        /// Connections still open; `stop()` shuts them too. The client's pool is shared by the whole
        /// process, and a later test's server may get this port: a connection left serving this
        /// script would answer that test's requests.
        private var open: Set<Int32> = []
        var accepted: Int { lock.withLock { _accepted } }

        init(answer: @escaping @Sendable (Int, String) -> (response: String, close: Bool)) throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.fd = fd
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard bound == 0, listen(fd, 8) == 0 else { throw HTTP.Failure(description: "cannot listen") }
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
            self.port = UInt16(bigEndian: addr.sin_port)
            let listener = fd
            Thread { [self] in
                while true {
                    let c = accept(listener, nil, nil)
                    // Only this thread closes the listener: closed by `stop()` while this thread was
                    // serving, its number could be reused by another test's socket and accepted on here.
                    guard c >= 0 else { Glibc.close(listener); return }
                    lock.withLock { _accepted += 1; open.insert(c) }
                    var buf: [UInt8] = []
                    var chunk = [UInt8](repeating: 0, count: 4096)
                    connection: while true {
                        // One request: headers, then Content-Length bytes.
                        var end: Int?
                        while end == nil {
                            end = HTTP.find(buf, [13, 10, 13, 10])
                            if end == nil {
                                let n = recv(c, &chunk, 4096, 0)
                                if n <= 0 { break connection }
                                buf += chunk[0..<n]
                            }
                        }
                        let head = String(decoding: buf[0..<end!], as: UTF8.self)
                        let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                        while buf.count < end! + 4 + length {
                            let n = recv(c, &chunk, 4096, 0)
                            if n <= 0 { break connection }
                            buf += chunk[0..<n]
                        }
                        buf.removeFirst(end! + 4 + length)
                        let n = lock.withLock { served += 1; return served }
                        let (response, close) = answer(n, head)
                        _ = response.utf8CString.withUnsafeBufferPointer { send(c, $0.baseAddress!, $0.count - 1, Int32(MSG_NOSIGNAL)) }
                        if close { break }
                    }
                    lock.withLock { open.remove(c) }
                    Glibc.close(c)
                }
            }.start()
        }

        var address: String { "127.0.0.1:\(port)" }
        /// Wakes the accept loop (which then closes the listener) and ends open connections.
        func stop() {
            shutdown(fd, Int32(SHUT_RDWR))
            lock.withLock { for c in open { shutdown(c, Int32(SHUT_RDWR)) } }
        }
    }

    static func ok(_ body: String, extra: String = "") -> String {
        "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\(extra)\r\n\(body)"
    }

    @Test func keptAliveConnectionsAreReused() throws {
        let server = try ScriptedServer { n, _ in (HTTPClientTests.ok("answer \(n)"), false) }
        defer { server.stop() }
        for i in 1...5 {
            let (code, text) = try HTTP.request("POST", server.address, "/x", body: Array("q\(i)".utf8), timeout: 5)
            #expect(code == 200)
            #expect(text == "answer \(i)")
        }
        #expect(server.accepted == 1)
    }

    @Test func aConnectionTheServerClosedIsReplacedWithoutFailingTheRequest() throws {
        // The server answers and then closes without saying so, as after an idle timeout.
        let server = try ScriptedServer { n, _ in (HTTPClientTests.ok("answer \(n)"), true) }
        defer { server.stop() }
        for i in 1...3 {
            let (code, text) = try HTTP.request("GET", server.address, "/x", timeout: 5)
            #expect(code == 200)
            #expect(text == "answer \(i)")
        }
        #expect(server.accepted == 3)
    }

    @Test func chunkedAnswersAreReadToTheirEndAndTheConnectionReused() throws {
        let server = try ScriptedServer { n, _ in
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n\(n)\r\n\(String(repeating: "!", count: n))\r\n0\r\n\r\n", false)
        }
        defer { server.stop() }
        #expect(try HTTP.request("GET", server.address, "/x", timeout: 5).1 == "hello, world!")
        #expect(try HTTP.request("GET", server.address, "/x", timeout: 5).1 == "hello, world!!")
        #expect(server.accepted == 1)
    }

    @Test func connectionCloseIsHonouredAndEmptyAnswersNeedNoBody() throws {
        let server = try ScriptedServer { n, _ in
            n == 1 ? ("HTTP/1.1 204 No Content\r\n\r\n", false) : (HTTPClientTests.ok("bye", extra: "Connection: close\r\n"), true)
        }
        defer { server.stop() }
        let (code, text) = try HTTP.request("DELETE", server.address, "/x", timeout: 5)
        #expect(code == 204 && text.isEmpty)
        #expect(try HTTP.request("GET", server.address, "/x", timeout: 5).1 == "bye")
        #expect(server.accepted == 1)
        // The closed connection was not pooled: the next request dials again.
        _ = try? HTTP.request("GET", server.address, "/x", timeout: 5)
        #expect(server.accepted == 2)
    }

    @Test func aTruncatedAnswerIsAnErrorNotAShortBody() throws {
        let server = try ScriptedServer { _, _ in ("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", true) }
        defer { server.stop() }
        #expect(throws: HTTP.Failure.self) { try HTTP.request("GET", server.address, "/x", timeout: 5) }
    }

    @Test func thePoolIsSafeUnderConcurrentTakeAndPut() throws {
        // Threads parking and taking connections at once (a take racing a fresh park once trapped on
        // an unsigned subtraction). Socket pairs stand in for connections: open, nothing to read.
        let pool = ConnectionPool()
        var pairs: [[Int32]] = []
        for _ in 0..<8 {
            var fds: [Int32] = [0, 0]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
            pairs.append(fds)
            pool.put("peer:1", fds[0])
        }
        defer { for p in pairs { close(p[1]) } }
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<2000 {
                if let fd = pool.take("peer:1") { pool.put("peer:1", fd) }
            }
        }
        var back = 0
        while pool.take("peer:1") != nil { back += 1 }
        #expect(back == 8, "every connection parked again, none lost or duplicated")
        for p in pairs { close(p[0]) }
    }
}
