import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A small blocking HTTP client for the CLI and tests (the node API is plain HTTP/1.1 on loopback or a
/// private network). Bounded by `timeout`.
public enum HTTP {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Returns the status code and body text.
    public static func request(_ method: String, _ hostPort: String, _ path: String, body: [UInt8]? = nil,
                               timeout: TimeInterval = 30) throws -> (Int, String) {
        guard let url = URL(string: "http://\(hostPort)\(path)") else { throw Failure(description: "bad address \(hostPort)") }
        var req = URLRequest(url: url, timeoutInterval: timeout)
        req.httpMethod = method
        if let body {
            req.httpBody = Data(body)
            req.setValue("application/octet-stream", forHTTPHeaderField: "Content-Type")
        }
        let box = ResultBox()
        let sem = DispatchSemaphore(value: 0)
        let task = URLSession.shared.dataTask(with: req) { data, response, error in
            box.set(data, (response as? HTTPURLResponse)?.statusCode, error)
            sem.signal()
        }
        task.resume()
        if sem.wait(timeout: .now() + timeout + 1) == .timedOut {
            task.cancel()
            throw Failure(description: "no answer from \(hostPort) within \(Int(timeout)) s")
        }
        let (data, code, error) = box.get()
        if let error { throw Failure(description: "cannot reach \(hostPort): \(error.localizedDescription)") }
        return (code ?? 0, String(decoding: data ?? Data(), as: UTF8.self))
    }
}

private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?
    private var code: Int?
    private var error: Error?
    func set(_ d: Data?, _ c: Int?, _ e: Error?) { lock.withLock { data = d; code = c; error = e } }
    func get() -> (Data?, Int?, Error?) { lock.withLock { (data, code, error) } }
}
