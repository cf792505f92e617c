import Crypto

/// RFC 6962 / RFC 9162 Merkle tree hashing: leaf = H(0x00‖d), node = H(0x01‖l‖r), the tree over
/// n leaves splits at the largest power of two smaller than n.
public enum Merkle {
    public static func leafHash(_ data: [UInt8]) -> Hash32 {
        var h = SHA256()
        withUnsafeBytes(of: UInt8(0x00)) { h.update(bufferPointer: $0) }
        data.withUnsafeBytes { h.update(bufferPointer: $0) }
        return Hash32(digest: h.finalize())
    }

    public static func nodeHash(_ l: Hash32, _ r: Hash32) -> Hash32 {
        var h = SHA256()
        withUnsafeBytes(of: UInt8(0x01)) { h.update(bufferPointer: $0) }
        l.bytes.withUnsafeBytes { h.update(bufferPointer: $0) }
        r.bytes.withUnsafeBytes { h.update(bufferPointer: $0) }
        return Hash32(digest: h.finalize())
    }

    /// The root of the empty tree is the hash of the empty string.
    public static let emptyRoot = Hash32.sha256([UInt8]())

    /// Largest power of two strictly smaller than n (n ≥ 2).
    static func split(_ n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// MTH over already-hashed leaves.
    public static func root(leaves: ArraySlice<Hash32>) -> Hash32 {
        switch leaves.count {
        case 0: return emptyRoot
        case 1: return leaves.first!
        default:
            let k = split(leaves.count)
            let s = leaves.startIndex
            return nodeHash(root(leaves: leaves[s..<s + k]), root(leaves: leaves[(s + k)...]))
        }
    }

    /// The same root as `root(leaves:)` on a slice, computed level by level in one flat buffer (no
    /// array per node): adjacent pairs are hashed, an odd last node moves up unchanged, which builds
    /// exactly RFC 6962's tree (left subtrees are the largest powers of two).
    public static func root(leaves: [Hash32]) -> Hash32 {
        guard leaves.count > 1 else { return leaves.first ?? emptyRoot }
        var buf = [UInt8](repeating: 0, count: leaves.count * 32)
        buf.withUnsafeMutableBytes { b in
            for (i, l) in leaves.enumerated() { l.bytes.withUnsafeBytes { b.baseAddress!.advanced(by: 32 * i).copyMemory(from: $0.baseAddress!, byteCount: 32) } }
            var n = leaves.count
            let tag: [UInt8] = [0x01]
            while n > 1 {
                for i in 0..<(n / 2) {
                    var h = SHA256()
                    tag.withUnsafeBytes { h.update(bufferPointer: $0) }
                    h.update(bufferPointer: UnsafeRawBufferPointer(rebasing: b[(64 * i)..<(64 * i + 64)]))
                    h.finalize().withUnsafeBytes { b.baseAddress!.advanced(by: 32 * i).copyMemory(from: $0.baseAddress!, byteCount: 32) }
                }
                if n % 2 == 1 {
                    b.baseAddress!.advanced(by: 32 * (n / 2)).copyMemory(from: b.baseAddress!.advanced(by: 32 * (n - 1)), byteCount: 32)
                }
                n = (n + 1) / 2
            }
        }
        return Hash32(Array(buf[0..<32]))
    }

    /// Audit path for leaf `index` in the tree over `leaves` (RFC 6962 §2.1.1 PATH).
    public static func inclusionProof(index: Int, leaves: [Hash32]) -> [Hash32] {
        precondition(index >= 0 && index < leaves.count)
        func path(_ m: Int, _ d: ArraySlice<Hash32>) -> [Hash32] {
            if d.count <= 1 { return [] }
            let k = split(d.count)
            let s = d.startIndex
            if m < k {
                return path(m, d[s..<s + k]) + [root(leaves: d[(s + k)...])]
            } else {
                return path(m - k, d[(s + k)...]) + [root(leaves: d[s..<s + k])]
            }
        }
        return path(index, leaves[...])
    }

    /// RFC 9162 §2.1.3.2: verifies an inclusion proof.
    public static func verifyInclusion(leaf: Hash32, index: Int, treeSize: Int, proof: [Hash32], root: Hash32) -> Bool {
        guard index >= 0, index < treeSize else { return false }
        var fn = index
        var sn = treeSize - 1
        var r = leaf
        for p in proof {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }

    /// Consistency proof between the tree over the first `m` leaves and the tree over all (RFC 6962 §2.1.2 PROOF).
    public static func consistencyProof(oldSize m: Int, leaves: [Hash32]) -> [Hash32] {
        precondition(m >= 0 && m <= leaves.count)
        if m == 0 || m == leaves.count { return [] }
        func subproof(_ m: Int, _ d: ArraySlice<Hash32>, _ b: Bool) -> [Hash32] {
            let n = d.count
            if m == n { return b ? [] : [root(leaves: d)] }
            let k = split(n)
            let s = d.startIndex
            if m <= k {
                return subproof(m, d[s..<s + k], b) + [root(leaves: d[(s + k)...])]
            } else {
                return subproof(m - k, d[(s + k)...], false) + [root(leaves: d[s..<s + k])]
            }
        }
        return subproof(m, leaves[...], true)
    }

    /// RFC 9162 §2.1.4.2: verifies a consistency proof between two roots.
    public static func verifyConsistency(oldSize: Int, newSize: Int, oldRoot: Hash32, newRoot: Hash32, proof: [Hash32]) -> Bool {
        guard oldSize >= 0, oldSize <= newSize else { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        if oldSize == 0 { return proof.isEmpty }
        guard !proof.isEmpty else { return false }
        var path = proof
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) } // old size a power of two
        guard !path.isEmpty else { return false }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 { fn >>= 1; sn >>= 1 }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = nodeHash(c, fr)
                sr = nodeHash(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                sr = nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && fr == oldRoot && sr == newRoot
    }
}

/// An append-only Merkle accumulator: the roots of the perfect subtrees covering the leaves so far
/// (a "compact range"), so the root after each append costs O(log n) instead of O(n).
public struct MerkleAccumulator: Sendable {
    private var peaks: [(size: Int, hash: Hash32)] = []
    public private(set) var count = 0

    public init() {}

    public mutating func append(_ leaf: Hash32) {
        var node = (size: 1, hash: leaf)
        while let last = peaks.last, last.size == node.size {
            peaks.removeLast()
            node = (size: node.size * 2, hash: Merkle.nodeHash(last.hash, node.hash))
        }
        peaks.append(node)
        count += 1
    }

    public var root: Hash32 {
        guard var acc = peaks.last?.hash else { return Merkle.emptyRoot }
        for p in peaks.dropLast().reversed() { acc = Merkle.nodeHash(p.hash, acc) }
        return acc
    }
}
