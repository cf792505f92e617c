import Federation
import Foundation
import Ledger
import Testing
@testable import Workflows

/// Two hospitals, an insurer, a sponsor and public health on one ledger file, with a manual clock.
final class Consortium {
    static let start: Int64 = 1_790_000_000_000 // 2026-09-21
    let dir: URL
    let orgs: [String: OrganisationKeys]
    let genesis: Genesis
    let ledger: Ledger
    var now: Int64 = Consortium.start
    private var signers: [String: TransactionSigner] = [:]
    let ids = PatientIdentity(consortiumSecret: Array(repeating: 7, count: 32))

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tally-wf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var keys: [String: OrganisationKeys] = [:]
        var members: [Member] = []
        for (id, kind, voting) in [("general-hospital", MemberKind.hospital, true), ("city-medical", .hospital, true),
                                   ("healthinsure", .insurer, true), ("pharmacorp", .pharma, true), ("state-health", .publicHealth, false)] {
            let k = OrganisationKeys(org: id)
            keys[id] = k
            members.append(Member(id: id, name: id, kind: kind, signingKey: k.signing.publicKey.base64, encryptionKey: k.agreement.publicKeyBase64, voting: voting))
        }
        orgs = keys
        genesis = Genesis(chain: "wf-test", time: Consortium.start - 1000, members: members)
        ledger = try Ledger.create(path: dir.appendingPathComponent("ledger.sqlite").path, genesis: genesis)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    func signer(_ id: String) -> TransactionSigner {
        if let s = signers[id] { return s }
        let s = TransactionSigner(chain: genesis.chain, identity: id, key: orgs[id]!.signing, clock: { [unowned self] in now })
        signers[id] = s
        return s
    }

    func enroll(_ org: String, _ name: String, role: String) throws -> TransactionSigner {
        let key = SigningKey()
        try commit(signer(org).sign("identity.enroll", ["name": .string(name), "role": .string(role), "key": .string(key.publicKey.base64)]))
        let s = TransactionSigner(chain: genesis.chain, identity: "\(org)/\(name)", key: key, clock: { [unowned self] in now })
        signers["\(org)/\(name)"] = s
        return s
    }

    /// Commits one block; every transaction must commit.
    @discardableResult
    func commit(_ txs: Transaction...) throws -> [TransactionReceipt] {
        now += 1000
        return try ledger.submit(txs, proposer: orgs["general-hospital"]!, time: now).map { s in
            guard let r = s.receipt else { throw WorkflowError("refused: \(s.error!)") }
            return r
        }
    }

    /// Submits one transaction that must be refused; returns the error and checks nothing changed.
    func refused(_ tx: Transaction, sourceLocation: SourceLocation = #_sourceLocation) throws -> TransactionError? {
        let before = (ledger.height, ledger.ledgerRoot)
        now += 1000
        let out = try ledger.submit([tx], proposer: orgs["general-hospital"]!, time: now)
        #expect(ledger.height == before.0 && ledger.ledgerRoot == before.1, "a refused transaction changes nothing", sourceLocation: sourceLocation)
        guard let e = out[0].error else { Issue.record("expected a refusal", sourceLocation: sourceLocation); return nil }
        return e
    }

    /// Registers a patient at `site` with one encounter on `date`, sealed for the site alone and with
    /// the site's service commitment. Returns (pseudonym, encounter record key).
    @discardableResult
    func patient(_ n: Int, at site: String, encounterOn date: String = "2026-09-20", birthYear: Int = 1960) throws -> (String, String) {
        let pid = ids.pseudonym(system: "urn:test", identifier: "P\(n)")
        try commit(signer(site).sign("patient.register", ["patient": .string(pid), "demographic_hash": .string(String(repeating: "cd", count: 32))]))
        let enc = "\(site)/encounter/\(n)-\(date)"
        let items: [RecordBatch.Item] = [
            .init(key: "\(site)/patient/\(n)", patient: pid, type: "Patient",
                  plaintext: RecordPayload.patient(birthDate: "\(birthYear)-05-05", sex: n % 2 == 0 ? "female" : "male", region: "north", zip3: "021", deceased: false).bytes),
            .init(key: enc, patient: pid, type: "Encounter", plaintext: RecordPayload.encounter(id: "E\(n)", date: date, kind: "ambulatory", region: "north").bytes,
                  serviceDate: date),
        ]
        let args = try RecordBatch.arguments(chain: genesis.chain, keysetID: "ks-\(site)-\(n)-\(date)", readers: [site: orgs[site]!.agreement.publicKeyBase64],
                                             writers: [site], items: items, serviceSecret: ServiceCommitment.secret(orgs[site]!))
        try commit(signer(site).sign("record.put", args))
        return (pid, enc)
    }
}
