import Crypto
@testable import Ledger
import Testing

/// The state digest is part of every block header: its bytes must never change between releases.
@Suite struct StateDigestTests {
    @Test func digestOfKnownWritesIsPinned() {
        var w = StateWrites()
        w.entries["patient/PAT-1"] = StateEntry(value: ["name": "x", "n": 3], version: 2, height: 7)
        w.entries["nonce/general-hospital"] = StateEntry(value: .int(41), version: 41, height: 7)
        w.entries["é/key"] = StateEntry(value: .string("v"), version: 1, height: 7)
        w.entries["a"] = StateEntry(value: .null, version: 1, height: 7)
        #expect(w.digest().hex == "b22c7708eccb9760bb26bf71165c7d78da27090571d08f8701711e013363645c")
        #expect(StateWrites().digest().hex == Hash32(Array(SHA256.hash(data: [UInt8]()))).hex)
    }
}
