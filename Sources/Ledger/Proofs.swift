import Foundation

/// A self-contained proof that a transaction is in the ledger: the transaction's hash, its block
/// header, the audit path from the transaction to the block's tx root, the audit path from the block
/// to the ledger root at a checkpoint, and that checkpoint signed by a member. Checkable offline with
/// nothing but the genesis file (which names the members' keys).
public struct InclusionProof: Sendable {
    public var tx: Hash32
    public var txIndex: Int
    public var header: BlockHeader
    public var txPath: [Hash32]
    public var blockPath: [Hash32]
    public var checkpoint: Checkpoint

    public var json: JSON {
        ["tally_proof": "inclusion", "tx": .string(tx.hex), "tx_index": .int(Int64(txIndex)), "header": header.json,
         "tx_path": .array(txPath.map { .string($0.hex) }), "block_path": .array(blockPath.map { .string($0.hex) }),
         "checkpoint": checkpoint.json]
    }

    public init(tx: Hash32, txIndex: Int, header: BlockHeader, txPath: [Hash32], blockPath: [Hash32], checkpoint: Checkpoint) {
        self.tx = tx
        self.txIndex = txIndex
        self.header = header
        self.txPath = txPath
        self.blockPath = blockPath
        self.checkpoint = checkpoint
    }

    public init(json: JSON) throws {
        func hashes(_ k: String) throws -> [Hash32] {
            guard let a = json[k]?.arrayValue else { throw LedgerError.invalidProof("\(k) missing") }
            return try a.map { v in
                guard let h = v.stringValue.flatMap(Hash32.init(hex:)) else { throw LedgerError.invalidProof("\(k) holds a bad hash") }
                return h
            }
        }
        guard json["tally_proof"]?.stringValue == "inclusion", let tx = json["tx"]?.stringValue.flatMap(Hash32.init(hex:)),
              let idx = json["tx_index"]?.intValue, let header = json["header"], let cp = json["checkpoint"]
        else { throw LedgerError.invalidProof("not an inclusion proof") }
        self.init(tx: tx, txIndex: Int(idx), header: try BlockHeader(json: header), txPath: try hashes("tx_path"),
                  blockPath: try hashes("block_path"), checkpoint: try Checkpoint(json: cp))
    }

    /// Checks every link. `genesis` supplies the chain id and the founding members' keys; a
    /// checkpoint signed by a member added later needs that member's key in `extraKeys`.
    public func verify(genesis: Genesis, extraKeys: [String: PublicSigningKey] = [:]) throws {
        guard header.chain == genesis.chain, checkpoint.chain == genesis.chain else { throw LedgerError.invalidProof("proof is for another chain") }
        guard Merkle.verifyInclusion(leaf: Merkle.leafHash(tx.bytes), index: txIndex, treeSize: Int(header.txCount), proof: txPath, root: header.txRoot) else {
            throw LedgerError.invalidProof("transaction is not under the block's transaction root")
        }
        guard header.height <= checkpoint.height,
              Merkle.verifyInclusion(leaf: Merkle.leafHash(header.hash.bytes), index: Int(header.height), treeSize: Int(checkpoint.height + 1),
                                     proof: blockPath, root: checkpoint.ledgerRoot)
        else { throw LedgerError.invalidProof("block is not under the checkpoint's ledger root") }
        let key = extraKeys[checkpoint.signer] ?? genesis.members.first { $0.id == checkpoint.signer }.flatMap { PublicSigningKey(base64: $0.signingKey) }
        guard let key else { throw LedgerError.invalidProof("checkpoint signer \(checkpoint.signer) is unknown") }
        guard checkpoint.isValid(signedBy: key) else { throw LedgerError.invalidProof("checkpoint signature does not verify") }
    }
}

/// A proof that the ledger at checkpoint `new` extends the ledger at checkpoint `old`.
public struct ConsistencyProof: Sendable {
    public var old: Checkpoint
    public var new: Checkpoint
    public var path: [Hash32]

    public var json: JSON {
        ["tally_proof": "consistency", "old": old.json, "new": new.json, "path": .array(path.map { .string($0.hex) })]
    }

    public func verify() -> Bool {
        Merkle.verifyConsistency(oldSize: Int(old.height + 1), newSize: Int(new.height + 1), oldRoot: old.ledgerRoot, newRoot: new.ledgerRoot, proof: path)
    }
}

extension Ledger {
    public func inclusionProof(for hash: Hash32) throws -> InclusionProof {
        try lock.withLock {
            guard let r = try receipt(hash) else { throw LedgerError.notFound("transaction \(hash.hex) is not on this ledger") }
            let b = try block(at: r.height)
            let leaves = b.transactions.map { Merkle.leafHash($0.hash.bytes) }
            let headBlock = try block(at: head.height)
            return InclusionProof(tx: hash, txIndex: r.index, header: b.header, txPath: Merkle.inclusionProof(index: r.index, leaves: leaves),
                                  blockPath: Merkle.inclusionProof(index: Int(r.height), leaves: blockTreeLeaves),
                                  checkpoint: headBlock.checkpoint)
        }
    }

    public func consistencyProof(from oldHeight: Int64, to newHeight: Int64) throws -> ConsistencyProof {
        try lock.withLock {
            guard oldHeight >= 1, oldHeight <= newHeight, newHeight <= head.height else {
                throw LedgerError.notFound("heights must satisfy 1 ≤ old ≤ new ≤ \(head.height)")
            }
            let leaves = Array(blockTreeLeaves.prefix(Int(newHeight + 1)))
            return ConsistencyProof(old: try block(at: oldHeight).checkpoint, new: try block(at: newHeight).checkpoint,
                                    path: Merkle.consistencyProof(oldSize: Int(oldHeight + 1), leaves: leaves))
        }
    }
}
