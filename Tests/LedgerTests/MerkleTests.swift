import Ledger
import Testing

@Suite struct MerkleTests {
    static func leaves(_ n: Int) -> [Hash32] { (0..<n).map { Merkle.leafHash([UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)]) } }

    /// RFC 6962 test vectors (certificate-transparency merkle_tree_test).
    @Test func matchesCertificateTransparencyVectors() {
        let inputs: [[UInt8]] = [[], [0x00], [0x10], [0x20, 0x21], [0x30, 0x31], [0x40, 0x41, 0x42, 0x43],
                                 Array(0x50...0x57), Array(0x60...0x6f)]
        let roots = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                     "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                     "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                     "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                     "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                     "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                     "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                     "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]
        let hashed = inputs.map { Merkle.leafHash($0) }
        for n in 1...8 {
            #expect(Merkle.root(leaves: Array(hashed.prefix(n))).hex == roots[n - 1], "tree size \(n)")
        }
        #expect(Merkle.root(leaves: []).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    /// The flat, level-by-level root against the recursive definition (split at the largest power of two).
    @Test func flatRootAgreesWithTheRecursiveDefinition() {
        let all = Self.leaves(300)
        for n in 0...300 {
            #expect(Merkle.root(leaves: Array(all.prefix(n))) == Merkle.root(leaves: all.prefix(n)), "tree size \(n)")
        }
    }

    @Test func accumulatorAgreesWithFullTree() {
        var acc = MerkleAccumulator()
        let all = Self.leaves(130)
        for (i, l) in all.enumerated() {
            acc.append(l)
            #expect(acc.root == Merkle.root(leaves: Array(all.prefix(i + 1))))
        }
    }

    @Test(arguments: 1...64)
    func inclusionProofsVerifyAndTamperingIsCaught(size: Int) {
        let leaves = Self.leaves(size)
        let root = Merkle.root(leaves: leaves)
        for i in 0..<size {
            let proof = Merkle.inclusionProof(index: i, leaves: leaves)
            #expect(Merkle.verifyInclusion(leaf: leaves[i], index: i, treeSize: size, proof: proof, root: root))
            // Every single-element change of the proof breaks it.
            for j in proof.indices {
                var bad = proof
                bad[j] = Merkle.leafHash([0xFF, UInt8(j)])
                #expect(!Merkle.verifyInclusion(leaf: leaves[i], index: i, treeSize: size, proof: bad, root: root))
            }
            #expect(!Merkle.verifyInclusion(leaf: leaves[i], index: i, treeSize: size, proof: proof + [root], root: root))
            if !proof.isEmpty {
                #expect(!Merkle.verifyInclusion(leaf: leaves[i], index: i, treeSize: size, proof: Array(proof.dropLast()), root: root))
            }
            #expect(!Merkle.verifyInclusion(leaf: Merkle.leafHash([9, 9, 9]), index: i, treeSize: size, proof: proof, root: root))
            if size > 1 {
                #expect(!Merkle.verifyInclusion(leaf: leaves[i], index: (i + 1) % size, treeSize: size, proof: proof, root: root))
            }
            // (The tree size itself is authenticated by the signed checkpoint, not by the path.)
        }
    }

    @Test(arguments: 1...64)
    func consistencyProofsVerifyAndTamperingIsCaught(size: Int) {
        let leaves = Self.leaves(size)
        let newRoot = Merkle.root(leaves: leaves)
        for m in 1...size {
            let oldRoot = Merkle.root(leaves: Array(leaves.prefix(m)))
            let proof = Merkle.consistencyProof(oldSize: m, leaves: leaves)
            #expect(Merkle.verifyConsistency(oldSize: m, newSize: size, oldRoot: oldRoot, newRoot: newRoot, proof: proof), "\(m) → \(size)")
            for j in proof.indices {
                var bad = proof
                bad[j] = Merkle.leafHash([0xEE])
                #expect(!Merkle.verifyConsistency(oldSize: m, newSize: size, oldRoot: oldRoot, newRoot: newRoot, proof: bad))
            }
            if m < size {
                // A forked history (one changed leaf inside the old tree) is not consistent.
                var forked = leaves
                forked[m - 1] = Merkle.leafHash([0xAB])
                #expect(!Merkle.verifyConsistency(oldSize: m, newSize: size, oldRoot: oldRoot, newRoot: Merkle.root(leaves: forked), proof: proof))
            }
        }
    }
}
