/// The one binary form of a block that crosses the network (a Raft log entry, a catch-up reply):
/// magic, then length-prefixed header JSON, header signature, checkpoint JSON, and each transaction's
/// wire bytes. Decoding checks lengths against the input and `maxBytes`; what it returns is still
/// unverified — `Ledger.apply` checks every signature and root.
extension Block {
    static let wireMagic: [UInt8] = Array("TLB1".utf8)

    public var encoded: [UInt8] {
        var out = Block.wireMagic
        func put(_ bytes: [UInt8]) {
            var n = UInt32(bytes.count).bigEndian
            withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
            out.append(contentsOf: bytes)
        }
        put(header.json.canonicalBytes)
        put(signature)
        put(checkpoint.json.canonicalBytes)
        var count = UInt32(transactions.count).bigEndian
        withUnsafeBytes(of: &count) { out.append(contentsOf: $0) }
        for tx in transactions { put(tx.bytes) }
        return out
    }

    public init(encoded bytes: [UInt8], maxBytes: Int = 64 << 20) throws {
        guard bytes.count <= maxBytes else { throw LedgerError.invalidBlock(height: -1, "encoded block of \(bytes.count) bytes exceeds \(maxBytes)") }
        guard bytes.starts(with: Block.wireMagic) else { throw LedgerError.invalidBlock(height: -1, "not an encoded block") }
        var at = Block.wireMagic.count
        func u32() throws -> Int {
            guard at + 4 <= bytes.count else { throw LedgerError.invalidBlock(height: -1, "truncated block encoding") }
            let v = bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) }
            at += 4
            return v
        }
        func take() throws -> [UInt8] {
            let n = try u32()
            guard n <= bytes.count - at else { throw LedgerError.invalidBlock(height: -1, "truncated block encoding") }
            defer { at += n }
            return Array(bytes[at..<at + n])
        }
        let header = try BlockHeader(json: JSON.parse(String(decoding: try take(), as: UTF8.self)))
        let signature = try take()
        let checkpoint = try Checkpoint(json: JSON.parse(String(decoding: try take(), as: UTF8.self)))
        let n = try u32()
        guard n <= (bytes.count - at) / 4 else { throw LedgerError.invalidBlock(height: header.height, "transaction count \(n) exceeds the encoding") }
        var txs: [Transaction] = []
        txs.reserveCapacity(n)
        for i in 0..<n {
            do { txs.append(try Transaction(decoding: try take(), maxBytes: maxBytes)) } catch {
                throw LedgerError.invalidBlock(height: header.height, "transaction \(i) does not decode: \(error)")
            }
        }
        guard at == bytes.count else { throw LedgerError.invalidBlock(height: header.height, "trailing bytes after block") }
        self.init(header: header, signature: signature, transactions: txs, checkpoint: checkpoint)
    }
}
