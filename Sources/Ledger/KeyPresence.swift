/// A Bloom filter over state keys, by `StateKey.hash`: "certainly never written" or "perhaps".
///
/// Bulk work reads many keys that do not exist yet: every registration of a new patient, every
/// first version of a record, every new keyset. Each such miss was an SQLite look-up (binding,
/// an index seek, the statement's reset): 13 % of the commit thread in a bulk ingest, 2 % of a solo
/// ledger's CPU (`Docs/PERFORMANCE.md`). The filter answers most of them from memory.
///
/// One 64-bit word per key, chosen by the hash's high bits, with four of its bits set from the low
/// bits ("register-blocked"): a look-up reads one word. At 16 bits per key (its capacity) about
/// 0.5 % of absent keys pass as "perhaps" and go to SQLite as before; a present key always passes
/// (no false negatives), so answers never change, only their cost.
struct KeyPresenceFilter {
    private var words: [UInt64]
    private let mask: Int
    /// Keys inserted (with repeats: a key written twice counts twice, which only rebuilds sooner).
    private(set) var count = 0
    /// Keys it holds at 16 bits per key; beyond this its false positives climb, so the owner rebuilds.
    let capacity: Int

    static let bitsPerKey = 16

    init(capacity: Int) {
        var n = 1
        while n * 64 < capacity * KeyPresenceFilter.bitsPerKey { n <<= 1 }
        words = [UInt64](repeating: 0, count: n)
        mask = n - 1
        self.capacity = n * 64 / KeyPresenceFilter.bitsPerKey
    }

    /// Memory held, in bytes.
    var bytes: Int { words.count * 8 }

    @inline(__always)
    private func slot(_ hash: Int64) -> (word: Int, bits: UInt64) {
        let u = UInt64(bitPattern: hash) // the first 8 bytes of a SHA-256: every bit is uniform
        let w = Int(truncatingIfNeeded: u >> 32) & mask
        let bits: UInt64 = 1 << (u & 63) | 1 << ((u >> 6) & 63) | 1 << ((u >> 12) & 63) | 1 << ((u >> 18) & 63)
        return (w, bits)
    }

    mutating func insert(_ hash: Int64) {
        let s = slot(hash)
        words[s.word] |= s.bits
        count += 1
    }

    func mayContain(_ hash: Int64) -> Bool {
        let s = slot(hash)
        return words[s.word] & s.bits == s.bits
    }
}
