import DeidSQL
import Federation
import Foundation
import Ledger

/// A node's directory on disk:
///
///     DIR/config.json            organisation id, kind, chain, file names
///     DIR/member.json            this organisation's public member entry (shared to build genesis)
///     DIR/genesis.json           the consortium's genesis (trust anchor for verification)
///     DIR/keys/signing.key       Ed25519 secret key, mode 0600
///     DIR/keys/agreement.key     X25519 secret key, mode 0600
///     DIR/keys/consortium.secret pseudonym key shared by the members, mode 0600
///     DIR/ledger.sqlite          the ledger and world state (WAL mode)
public struct NodeDirectory {
    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
        public init(_ d: String) { description = d }
    }

    public let url: URL
    public let config: JSON
    public var org: String { config["org"]?.stringValue ?? "" }
    public var kind: MemberKind { config["kind"]?.stringValue.flatMap(MemberKind.init(rawValue:)) ?? .hospital }

    public var configPath: String { url.appendingPathComponent("config.json").path }
    public var memberPath: String { url.appendingPathComponent("member.json").path }
    public var genesisPath: String { url.appendingPathComponent("genesis.json").path }
    public var ledgerPath: String { url.appendingPathComponent("ledger.sqlite").path }
    public var viewsPath: String { url.appendingPathComponent("views.sqlite").path }
    var signingKeyPath: String { url.appendingPathComponent("keys/signing.key").path }
    var agreementKeyPath: String { url.appendingPathComponent("keys/agreement.key").path }
    public var consortiumSecretPath: String { url.appendingPathComponent("keys/consortium.secret").path }

    /// Creates a directory with fresh keys and the public member entry. Refuses to overwrite keys.
    @discardableResult
    public static func create(at dir: String, org: String, name: String? = nil, kind: MemberKind, voting: Bool = true) throws -> NodeDirectory {
        guard Member.isValidID(org) else { throw Error("organisation id must be lowercase letters, digits and '-' (got \(org))") }
        let url = URL(fileURLWithPath: dir)
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("keys/signing.key").path) {
            throw Error("\(dir) already holds node keys; refusing to overwrite them")
        }
        try FileManager.default.createDirectory(at: url.appendingPathComponent("keys"), withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let keys = OrganisationKeys(org: org)
        try KeyFile.write(keys.signing.rawRepresentation, to: url.appendingPathComponent("keys/signing.key").path)
        try KeyFile.write(keys.agreement.rawRepresentation, to: url.appendingPathComponent("keys/agreement.key").path)
        let member = Member(id: org, name: name ?? org, kind: kind, signingKey: keys.signing.publicKey.base64,
                            encryptionKey: keys.agreement.publicKeyBase64, voting: voting)
        try write(member.json.pretty() + "\n", to: url.appendingPathComponent("member.json").path)
        let config: JSON = ["org": .string(org), "kind": .string(kind.rawValue), "ledger": "ledger.sqlite", "genesis": "genesis.json"]
        try write(config.pretty() + "\n", to: url.appendingPathComponent("config.json").path)
        return try NodeDirectory(dir)
    }

    public init(_ dir: String) throws {
        url = URL(fileURLWithPath: dir)
        guard let data = FileManager.default.contents(atPath: url.appendingPathComponent("config.json").path) else {
            throw Error("\(dir) is not a Tally node directory (no config.json); create one with `tally init`")
        }
        do { config = try JSON.parse(Array(data)) } catch { throw Error("config.json in \(dir) is not valid JSON: \(error)") }
        guard config["org"]?.stringValue != nil else { throw Error("config.json in \(dir) names no org") }
    }

    public func keys() throws -> OrganisationKeys {
        OrganisationKeys(org: org, signing: try SigningKey(rawRepresentation: KeyFile.read(signingKeyPath)),
                         agreement: try AgreementKey(rawRepresentation: KeyFile.read(agreementKeyPath)))
    }

    public func consortiumSecret() throws -> [UInt8] { try KeyFile.read(consortiumSecretPath) }

    /// A user's signing key file (`keys/users/NAME.key`, mode 0600), written by `tally identity enroll`.
    public func userKeyPath(_ name: String) -> String { url.appendingPathComponent("keys/users/\(name).key").path }

    /// The signing key of this organisation's user `name`.
    public func userKey(_ name: String) throws -> SigningKey {
        guard Member.isValidID(name) else { throw Error("user names are lowercase letters, digits and '-'") }
        let path = userKeyPath(name)
        guard FileManager.default.fileExists(atPath: path) else {
            throw Error("no key for user \(name) in \(url.path) (enrol one with: tally identity enroll --dir \(url.path) --name \(name) --role ROLE)")
        }
        return try SigningKey(rawRepresentation: KeyFile.read(path))
    }

    public func genesis() throws -> Genesis {
        guard FileManager.default.fileExists(atPath: genesisPath) else { throw Error("no genesis.json in \(url.path); join a consortium with `tally init --genesis FILE`") }
        return try Genesis.load(path: genesisPath)
    }

    /// Installs a genesis (and the consortium secret) and creates the ledger. The genesis must list
    /// this organisation with this directory's public keys.
    public func join(genesis: Genesis, consortiumSecret: [UInt8]) throws {
        let keys = try keys()
        guard let me = genesis.members.first(where: { $0.id == org }) else { throw Error("genesis does not list \(org)") }
        guard me.signingKey == keys.signing.publicKey.base64, me.encryptionKey == keys.agreement.publicKeyBase64 else {
            throw Error("genesis lists \(org) with other keys than this directory's")
        }
        guard consortiumSecret.count >= 32 else { throw Error("consortium secret must be at least 32 bytes") }
        try NodeDirectory.write(genesis.json.pretty() + "\n", to: genesisPath)
        try KeyFile.write(consortiumSecret, to: consortiumSecretPath)
        _ = try Ledger.create(path: ledgerPath, genesis: genesis)
    }

    public func openLedger() throws -> Ledger {
        guard FileManager.default.fileExists(atPath: ledgerPath) else { throw Error("no ledger in \(url.path); run `tally init --genesis FILE` first") }
        return try Ledger(path: ledgerPath)
    }

    public func member() throws -> Member {
        guard let d = FileManager.default.contents(atPath: memberPath) else { throw Error("no member.json in \(url.path)") }
        return try Member(json: JSON.parse(Array(d)))
    }

    static func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// A fresh 32-byte random secret.
    public static func randomSecret() -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }
}

/// A running solo node: the embedded default for development and demos. It proposes and commits
/// its own blocks; consensus (a later layer) replaces only this proposer loop.
public final class SoloNode: @unchecked Sendable {
    public let directory: NodeDirectory
    public let ledger: Ledger
    public let keys: OrganisationKeys
    public let genesis: Genesis
    let clock: () -> Int64

    public init(directory: NodeDirectory, clock: @escaping () -> Int64 = Clock.wallMillis) throws {
        self.directory = directory
        self.keys = try directory.keys()
        self.genesis = try directory.genesis()
        self.ledger = try directory.openLedger()
        self.clock = clock
        guard ledger.genesis.hash == genesis.hash else { throw NodeDirectory.Error("ledger and genesis.json disagree") }
    }

    /// A signer for this organisation's own key, continuing after the last nonce it used.
    public func organisationSigner() throws -> TransactionSigner {
        TransactionSigner(chain: genesis.chain, identity: keys.org, key: keys.signing, firstNonce: try ledger.nextNonce(for: keys.org), clock: clock)
    }

    /// Commits `txs` as one block (split by the block size limit). Returns one outcome per input.
    /// Open views follow the ledger.
    @discardableResult
    public func submit(_ txs: [Transaction]) throws -> [Submission] {
        var out: [Submission] = []
        let size = Int(ledger.params.maxBlockTransactions)
        var i = 0
        while i < txs.count {
            let chunk = Array(txs[i..<min(i + size, txs.count)])
            out += try ledger.submit(chunk, proposer: keys, time: clock())
            i += size
        }
        if let f = follower { f.blockCommitted() } else if let v = openViews { try v.catchUp(ledger) }
        return out
    }

    private var openViews: ViewStore?
    private var follower: ViewFollower?

    /// From now on the views catch up on a thread of their own while `submit` returns after the
    /// ledger commit (bulk ingest: materialising one batch overlaps committing the next). Call
    /// `finishFollowing()` to wait for the views to reach the ledger.
    public func followViewsInBackground() throws {
        guard follower == nil else { return }
        follower = ViewFollower(views: try views(), ledger: ledger)
    }

    /// Waits for the background views to reach the ledger's height and stops following.
    public func finishFollowing() throws {
        guard let f = follower else { return }
        defer { f.stop(); follower = nil }
        try f.wait(untilHeight: ledger.height)
    }

    /// This organisation's decrypted views (`DIR/views.sqlite`), caught up with the ledger.
    public func views() throws -> ViewStore {
        if let v = openViews { return v }
        let v = try ViewStore(path: directory.viewsPath, org: keys.org, chain: genesis.chain, agreementKey: keys.agreement)
        try v.catchUp(ledger)
        openViews = v
        return v
    }

    /// Rebuilds the views from the ledger.
    public func rebuildViews() throws -> ViewStore {
        openViews = nil
        let v = try ViewStore.rebuild(path: directory.viewsPath, org: keys.org, chain: genesis.chain, agreementKey: keys.agreement, ledger: ledger)
        openViews = v
        return v
    }

    /// The member service over this node's views, with the value sets from `valueSetDirectory`.
    public func member(valueSetDirectory: String?) throws -> MemberService {
        let sets = try valueSetDirectory.map { try QueryChecker.loadValueSets(directory: $0) } ?? [:]
        return MemberService(keys: keys, ledger: ledger, views: try views(), valueSets: sets)
    }
}
