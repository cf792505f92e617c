import Crypto
import Foundation

/// A SHA-256 digest as 32 bytes, shown as lowercase hex.
public struct Hash32: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == 32, "a SHA-256 digest has 32 bytes")
        self.bytes = bytes
    }

    public init?(hex: String) {
        guard let b = [UInt8](hex: hex), b.count == 32 else { return nil }
        self.bytes = b
    }

    public static let zero = Hash32([UInt8](repeating: 0, count: 32))

    public static func sha256<D: DataProtocol>(_ data: D) -> Hash32 {
        Hash32(digest: SHA256.hash(data: data))
    }

    /// One bulk copy of the digest's bytes (`Array(digest)` iterates them one by one).
    public init(digest: SHA256Digest) {
        bytes = digest.withUnsafeBytes { Array($0) }
    }

    public var hex: String { bytes.hexString }
    /// The first 8 bytes, big-endian: what the ledger file indexes transaction hashes by
    /// (`LedgerSchema`). Stored in the file, so it must never change.
    public var key: Int64 { bytes.withUnsafeBytes { Int64(bigEndian: $0.loadUnaligned(as: Int64.self)) } }
    public var description: String { hex }
    public static func < (a: Hash32, b: Hash32) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    /// The first 8 bytes (`key`): a SHA-256 digest is uniform, so they spread as well as all 32, and
    /// equal prefixes only cost the full comparison `==` makes anyway. (The synthesised hash would feed
    /// the array's 32 elements one at a time.)
    public func hash(into h: inout Hasher) { h.combine(key) }
    public static func == (a: Hash32, b: Hash32) -> Bool { a.bytes == b.bytes }
}

extension Array where Element == UInt8 {
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public init?(hex: String) {
        let u = Array(hex.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(u.count / 2)
        func nib(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        var i = 0
        while i < u.count {
            guard let h = nib(u[i]), let l = nib(u[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        self = out
    }

    public var base64: String { Data(self).base64EncodedString() }

    public init?(base64: String) {
        guard let d = Data(base64Encoded: base64) else { return nil }
        self = Array(d)
    }
}
