import Foundation

public struct BlockHeader: Equatable, Sendable {
    public var chain: String
    public var height: Int64
    public var previous: Hash32
    /// Block time (ms since epoch): the only clock contracts see.
    public var time: Int64
    public var proposer: String
    /// RFC 6962 root over the block's transaction hashes (leaf data = the 32-byte tx hash).
    public var txRoot: Hash32
    public var txCount: Int64
    /// Digest of the block's state writes (see `StateWrites.digest`).
    public var stateRoot: Hash32

    public var json: JSON {
        ["chain": .string(chain), "height": .int(height), "previous": .string(previous.hex), "time": .int(time),
         "proposer": .string(proposer), "tx_root": .string(txRoot.hex), "tx_count": .int(txCount),
         "state_root": .string(stateRoot.hex)]
    }

    public var hash: Hash32 { Hash32.sha256(json.canonicalBytes) }

    public init(chain: String, height: Int64, previous: Hash32, time: Int64, proposer: String, txRoot: Hash32, txCount: Int64, stateRoot: Hash32) {
        self.chain = chain
        self.height = height
        self.previous = previous
        self.time = time
        self.proposer = proposer
        self.txRoot = txRoot
        self.txCount = txCount
        self.stateRoot = stateRoot
    }

    public init(json: JSON) throws {
        guard let chain = json["chain"]?.stringValue, let height = json["height"]?.intValue,
              let prev = json["previous"]?.stringValue.flatMap(Hash32.init(hex:)), let time = json["time"]?.intValue,
              let proposer = json["proposer"]?.stringValue,
              let txRoot = json["tx_root"]?.stringValue.flatMap(Hash32.init(hex:)), let n = json["tx_count"]?.intValue,
              let sr = json["state_root"]?.stringValue.flatMap(Hash32.init(hex:))
        else { throw LedgerError.corrupt(height: json["height"]?.intValue ?? -1, "block header is malformed") }
        self.init(chain: chain, height: height, previous: prev, time: time, proposer: proposer, txRoot: txRoot, txCount: n, stateRoot: sr)
    }
}

/// A signed statement "the ledger of chain C at height H has block-tree root R": the Merkle root over
/// the hashes of blocks 0…H. Consistency proofs between two checkpoints show one ledger extends the other.
public struct Checkpoint: Equatable, Sendable {
    public var chain: String
    public var height: Int64
    public var ledgerRoot: Hash32
    public var signer: String
    public var signature: [UInt8]

    public var signedJSON: JSON {
        ["chain": .string(chain), "height": .int(height), "ledger_root": .string(ledgerRoot.hex), "signer": .string(signer)]
    }

    public var json: JSON {
        guard case .object(var o) = signedJSON else { fatalError() }
        o["signature"] = .string(signature.base64)
        return .object(o)
    }

    public init(chain: String, height: Int64, ledgerRoot: Hash32, signer: String, signature: [UInt8]) {
        self.chain = chain
        self.height = height
        self.ledgerRoot = ledgerRoot
        self.signer = signer
        self.signature = signature
    }

    public init(chain: String, height: Int64, ledgerRoot: Hash32, signer: String, key: SigningKey) {
        self.init(chain: chain, height: height, ledgerRoot: ledgerRoot, signer: signer, signature: [])
        self.signature = key.sign(domain: SigningDomain.checkpoint, signedJSON.canonicalBytes)
    }

    public init(json: JSON) throws {
        guard let chain = json["chain"]?.stringValue, let h = json["height"]?.intValue,
              let root = json["ledger_root"]?.stringValue.flatMap(Hash32.init(hex:)),
              let signer = json["signer"]?.stringValue,
              let sig = json["signature"]?.stringValue.flatMap({ [UInt8](base64: $0) })
        else { throw LedgerError.invalidProof("checkpoint is malformed") }
        self.init(chain: chain, height: h, ledgerRoot: root, signer: signer, signature: sig)
    }

    public func isValid(signedBy key: PublicSigningKey) -> Bool {
        key.isValid(signature: signature, domain: SigningDomain.checkpoint, for: signedJSON.canonicalBytes)
    }
}

/// A block as stored and replicated: header, proposer's signature over the header hash, the
/// transactions, and the proposer's checkpoint for this height.
public struct Block: Sendable {
    public var header: BlockHeader
    public var signature: [UInt8]
    public var transactions: [Transaction]
    public var checkpoint: Checkpoint

    public var hash: Hash32 { header.hash }

    public func headerSignatureIsValid(_ key: PublicSigningKey) -> Bool {
        key.isValid(signature: signature, domain: SigningDomain.block, for: header.hash.bytes)
    }

    static func txRoot(_ txs: [Transaction]) -> Hash32 {
        Merkle.root(leaves: txs.map { Merkle.leafHash($0.hash.bytes) })
    }
}
