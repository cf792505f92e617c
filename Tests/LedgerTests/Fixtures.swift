import Foundation
import Ledger
import Testing

/// A small consortium on a fresh ledger file, with a manual clock.
final class TestConsortium {
    static let start: Int64 = 1_790_000_000_000 // 2026-09-21
    let dir: URL
    let orgs: [String: OrganisationKeys]
    let genesis: Genesis
    let ledger: Ledger
    var now: Int64 = TestConsortium.start
    private var signers: [String: TransactionSigner] = [:]

    init(params: ConsortiumParams = ConsortiumParams(), extra: [(String, MemberKind, Bool)] = []) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tally-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let spec: [(String, MemberKind, Bool)] = [
            ("general-hospital", .hospital, true), ("city-medical", .hospital, true), ("valley-clinic", .clinic, true),
            ("healthinsure", .insurer, true), ("pharmacorp", .pharma, true), ("state-health", .publicHealth, false),
        ] + extra
        var keys: [String: OrganisationKeys] = [:]
        var members: [Member] = []
        for (id, kind, voting) in spec {
            let k = OrganisationKeys(org: id)
            keys[id] = k
            members.append(Member(id: id, name: id, kind: kind, signingKey: k.signing.publicKey.base64,
                                  encryptionKey: k.agreement.publicKeyBase64, voting: voting))
        }
        orgs = keys
        genesis = Genesis(chain: "test-consortium", time: TestConsortium.start - 1000, params: params, members: members)
        ledger = try Ledger.create(path: dir.appendingPathComponent("ledger.sqlite").path, genesis: genesis)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    var proposer: OrganisationKeys { orgs["general-hospital"]! }

    func signer(_ id: String) -> TransactionSigner {
        if let s = signers[id] { return s }
        let s = TransactionSigner(chain: genesis.chain, identity: id, key: orgs[id]!.signing, clock: { [unowned self] in now })
        signers[id] = s
        return s
    }

    /// Enrolls a user of `org` with `role` and returns its signer.
    func enroll(_ org: String, _ name: String, role: String) throws -> TransactionSigner {
        let key = SigningKey()
        let tx = signer(org).sign("identity.enroll", ["name": .string(name), "role": .string(role), "key": .string(key.publicKey.base64)])
        try expectCommitted(tx)
        let s = TransactionSigner(chain: genesis.chain, identity: "\(org)/\(name)", key: key, clock: { [unowned self] in now })
        signers["\(org)/\(name)"] = s
        return s
    }

    @discardableResult
    func submit(_ txs: [Transaction]) throws -> [Submission] {
        now += 1000
        return try ledger.submit(txs, proposer: proposer, time: now)
    }

    @discardableResult
    func expectCommitted(_ tx: Transaction, sourceLocation: SourceLocation = #_sourceLocation) throws -> JSON {
        let out = try submit([tx])
        guard let r = out[0].receipt else {
            Issue.record("expected commit, got \(out[0].error.map { "\($0)" } ?? "?")", sourceLocation: sourceLocation)
            return .null
        }
        return r.result
    }

    func expectRefused(_ tx: Transaction, sourceLocation: SourceLocation = #_sourceLocation) throws -> TransactionError? {
        let before = ledger.height
        let out = try submit([tx])
        #expect(ledger.height == before, "a refused transaction must leave the ledger unchanged", sourceLocation: sourceLocation)
        guard let e = out[0].error else {
            Issue.record("expected refusal, transaction committed", sourceLocation: sourceLocation)
            return nil
        }
        return e
    }

    /// Registers a patient at `org` and returns the pseudonym.
    func registerPatient(_ n: Int, at org: String = "general-hospital") throws -> String {
        let ids = PatientIdentity(consortiumSecret: Array(repeating: 7, count: 32))
        let pid = ids.pseudonym(system: "urn:oid:national", identifier: "ID-\(n)")
        try expectCommitted(signer(org).sign("patient.register", ["patient": .string(pid), "demographic_hash": .string(ids.demographicHash(family: "f\(n)", given: "g", birthDate: "1970-01-01"))]))
        return pid
    }
}
