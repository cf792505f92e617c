import Raft

/// Byte writer/reader for the peer protocol: big-endian integers, length-prefixed byte strings.
struct WireWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) } }
    mutating func u64(_ v: UInt64) { for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) } }
    mutating func data(_ d: [UInt8]) { u32(UInt32(d.count)); bytes.append(contentsOf: d) }
    mutating func string(_ s: String) { data(Array(s.utf8)) }
}

struct WireReader {
    let bytes: [UInt8]
    var at = 0
    init(_ b: [UInt8]) { bytes = b }

    mutating func u8() throws -> UInt8 {
        guard at < bytes.count else { throw WireError.truncated }
        defer { at += 1 }
        return bytes[at]
    }
    mutating func u32() throws -> UInt32 {
        guard at + 4 <= bytes.count else { throw WireError.truncated }
        defer { at += 4 }
        return bytes[at..<at + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }
    mutating func u64() throws -> UInt64 {
        guard at + 8 <= bytes.count else { throw WireError.truncated }
        defer { at += 8 }
        return bytes[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) }
    }
    mutating func data() throws -> [UInt8] {
        let n = Int(try u32())
        guard n <= bytes.count - at else { throw WireError.truncated }
        defer { at += n }
        return Array(bytes[at..<at + n])
    }
    mutating func string() throws -> String {
        guard let s = String(validating: try data(), as: UTF8.self) else { throw WireError.malformed("string is not UTF-8") }
        return s
    }
    var atEnd: Bool { at == bytes.count }
}

enum WireError: Error, CustomStringConvertible {
    case truncated
    case malformed(String)
    var description: String {
        switch self {
        case .truncated: return "truncated frame"
        case .malformed(let m): return "malformed frame: \(m)"
        }
    }
}

/// What travels between nodes after the handshake.
public enum PeerPayload: Equatable, Sendable {
    case raft(Message)
    /// Asks for committed blocks from `height` on (catch-up after a snapshot).
    case blockRequest(fromHeight: Int64, maxBlocks: Int)
    case blockResponse(fromHeight: Int64, blocks: [[UInt8]])

    public var encoded: [UInt8] {
        var w = WireWriter()
        switch self {
        case .raft(let m):
            w.u8(1)
            encode(m, into: &w)
        case .blockRequest(let h, let n):
            w.u8(2)
            w.u64(UInt64(bitPattern: h))
            w.u32(UInt32(clamping: n))
        case .blockResponse(let h, let blocks):
            w.u8(3)
            w.u64(UInt64(bitPattern: h))
            w.u32(UInt32(blocks.count))
            for b in blocks { w.data(b) }
        }
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws {
        var r = WireReader(bytes)
        switch try r.u8() {
        case 1: self = .raft(try decodeMessage(&r))
        case 2: self = .blockRequest(fromHeight: Int64(bitPattern: try r.u64()), maxBlocks: Int(try r.u32()))
        case 3:
            let h = Int64(bitPattern: try r.u64())
            let n = Int(try r.u32())
            guard n <= bytes.count / 4 else { throw WireError.malformed("block count") }
            var blocks: [[UInt8]] = []
            for _ in 0..<n { blocks.append(try r.data()) }
            self = .blockResponse(fromHeight: h, blocks: blocks)
        case let t: throw WireError.malformed("unknown payload type \(t)")
        }
        guard r.atEnd else { throw WireError.malformed("trailing bytes") }
    }
}

private let messageTypes = MessageType.allCases

private func encode(_ m: Message, into w: inout WireWriter) {
    w.u8(UInt8(messageTypes.firstIndex(of: m.type)!))
    w.string(m.from)
    w.string(m.to)
    w.u64(m.term)
    w.u64(m.logTerm)
    w.u64(m.index)
    w.u64(m.commit)
    w.u8(m.reject ? 1 : 0)
    w.u64(m.rejectHint)
    w.u32(UInt32(m.entries.count))
    for e in m.entries {
        w.u64(e.term)
        w.u64(e.index)
        w.u8(e.kind.rawValue)
        w.data(e.data)
    }
    if let s = m.snapshot {
        w.u8(1)
        w.u64(s.meta.index)
        w.u64(s.meta.term)
        w.data(s.meta.membership.encoded)
        w.data(s.data)
    } else {
        w.u8(0)
    }
}

private func decodeMessage(_ r: inout WireReader) throws -> Message {
    let t = Int(try r.u8())
    guard t < messageTypes.count else { throw WireError.malformed("message type \(t)") }
    var m = Message(type: messageTypes[t], from: try r.string(), to: try r.string(), term: try r.u64())
    m.logTerm = try r.u64()
    m.index = try r.u64()
    m.commit = try r.u64()
    m.reject = try r.u8() == 1
    m.rejectHint = try r.u64()
    let n = Int(try r.u32())
    guard n <= r.bytes.count / 21 else { throw WireError.malformed("entry count") }
    m.entries.reserveCapacity(n)
    for _ in 0..<n {
        let term = try r.u64(), index = try r.u64()
        guard let kind = EntryKind(rawValue: try r.u8()) else { throw WireError.malformed("entry kind") }
        m.entries.append(Entry(term: term, index: index, kind: kind, data: try r.data()))
    }
    if try r.u8() == 1 {
        let index = try r.u64(), term = try r.u64()
        guard let mem = Membership(encoded: try r.data()) else { throw WireError.malformed("snapshot membership") }
        m.snapshot = Snapshot(meta: SnapshotMeta(index: index, term: term, membership: mem), data: try r.data())
    }
    return m
}
