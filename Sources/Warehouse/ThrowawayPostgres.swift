import Foundation

/// A throwaway PostgreSQL server on a loopback port, for tests and benchmarks: initdb into a temporary
/// folder, pg_ctl start, stop on deinit. As root, the server binaries run as the `postgres` user
/// through `runuser`.
public final class ThrowawayPostgres {
    public let dataDir: String
    public let socketDir: String
    public let port: Int
    public let bin: String

    static func findBin() -> String? {
        for v in ["17", "16", "15", "14", "13"] {
            let b = "/usr/lib/postgresql/\(v)/bin"
            if FileManager.default.fileExists(atPath: b + "/initdb") { return b }
        }
        return nil
    }

    public static func freePort() -> Int {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(s) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                _ = bind(s, sp, len)
                _ = getsockname(s, sp, &len)
            }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    public struct Failure: Error, CustomStringConvertible { public let description: String }

    /// Runs a server tool to completion with posix_spawn/waitpid (output to a file: the server that
    /// pg_ctl starts inherits the descriptors and outlives the tool).
    @discardableResult
    public func run(_ tool: String, _ args: [String]) throws -> String {
        let asRoot = getuid() == 0
        let argv = (asRoot ? ["/usr/sbin/runuser", "-u", "postgres", "--", bin + "/" + tool] : [bin + "/" + tool]) + args
        let outPath = (dataDir as NSString).deletingLastPathComponent + "/\(tool)-\(UUID().uuidString.prefix(6)).out"
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cargs, environ)
        guard rc == 0 else { throw Failure(description: "cannot start \(tool): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else { throw Failure(description: "\(tool) failed (\(status)): \(text.suffix(500))") }
        return text
    }

    public init() throws {
        guard let bin = Self.findBin() else { throw Failure(description: "PostgreSQL server binaries not found (apt-get install postgresql)") }
        self.bin = bin
        let base = "/tmp/tally-pg-\(UUID().uuidString.prefix(8))"
        dataDir = base + "/data"
        socketDir = base + "/sock"
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: socketDir, withIntermediateDirectories: true)
        if getuid() == 0 {
            for d in [base, dataDir, socketDir] { _ = chown(d, 101, 104) }
            if let pw = getpwnam("postgres") {
                for d in [base, dataDir, socketDir] { _ = chown(d, pw.pointee.pw_uid, pw.pointee.pw_gid) }
            }
        }
        port = Self.freePort()
        try run("initdb", ["-D", dataDir, "-A", "trust", "-U", "tally", "--no-sync", "-E", "UTF8"])
        try start()
    }

    public func start() throws {
        try run("pg_ctl", ["-D", dataDir, "-w", "-t", "30", "-l", dataDir + "/server.log",
                           "-o", "-p \(port) -h 127.0.0.1 -k \(socketDir) -c fsync=off", "start"])
    }

    public func stop(immediate: Bool = false) throws {
        try run("pg_ctl", ["-D", dataDir, "-w", "-m", immediate ? "immediate" : "fast", "stop"])
    }

    public var conninfo: String { "host=127.0.0.1 port=\(port) user=tally dbname=postgres connect_timeout=5" }

    deinit {
        try? stop(immediate: true)
        try? FileManager.default.removeItem(atPath: (dataDir as NSString).deletingLastPathComponent)
    }
}
