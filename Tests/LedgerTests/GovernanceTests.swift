import Foundation
import Ledger
import Testing

@Suite struct PolicyGovernanceTests {
    func policy(_ c: TestConsortium, id: String = "trial-eligibility", k: Int64 = 11, rule: JSON = ["rule": "all"]) -> JSON {
        ["id": .string(id), "purpose": "trial recruitment", "k": .int(k), "expires": .int(c.now + 90 * 86_400_000), "approval": rule,
         "requesters": ["pharmacorp"], "templates": ["trial_eligibility.sql"]]
    }

    @Test func statusIsDerivedFromEveryCustodiansVote() throws {
        let c = try TestConsortium()
        let r = try c.expectCommitted(c.signer("pharmacorp").sign("policy.propose", ["document": policy(c)]))
        #expect(r["status"] == "pending")
        let hash = try #require(r["hash"]?.stringValue)
        let p0 = try #require(try c.ledger.value(StateKey.policy("trial-eligibility")))
        #expect(p0["custodians"] == ["city-medical", "general-hospital", "valley-clinic"])

        for org in ["general-hospital", "city-medical"] {
            try c.expectCommitted(c.signer(org).sign("policy.vote", ["policy": "trial-eligibility", "hash": .string(hash), "vote": "approve"]))
        }
        #expect(PolicyStatus.derive(try c.ledger.value(StateKey.policy("trial-eligibility"))!, at: c.now) == .pending)
        try c.expectCommitted(c.signer("valley-clinic").sign("policy.vote", ["policy": "trial-eligibility", "hash": .string(hash), "vote": "approve"]))
        let active = try #require(try c.ledger.value(StateKey.policy("trial-eligibility")))
        #expect(PolicyStatus.derive(active, at: c.now) == .active)
        #expect(PolicyStatus.approved(active, by: "city-medical", at: c.now))
        #expect(PolicyStatus.derive(active, at: active["expires"]!.intValue!) == .expired)

        // Withdrawing an approval takes the policy out of force.
        try c.expectCommitted(c.signer("city-medical").sign("policy.withdraw", ["policy": "trial-eligibility"]))
        let withdrawn = try #require(try c.ledger.value(StateKey.policy("trial-eligibility")))
        #expect(PolicyStatus.derive(withdrawn, at: c.now) == .pending)
        #expect(!PolicyStatus.approved(withdrawn, by: "city-medical", at: c.now))
        #expect(!PolicyStatus.approved(withdrawn, by: "general-hospital", at: c.now))
    }

    @Test func quorumRuleAndMembersAnswerOnlyForTheirOwnApproval() throws {
        let c = try TestConsortium()
        let r = try c.expectCommitted(c.signer("general-hospital").sign("policy.propose", ["document": policy(c, id: "ili", rule: ["rule": "quorum", "quorum": 2])]))
        let hash = r["hash"]!
        try c.expectCommitted(c.signer("general-hospital").sign("policy.vote", ["policy": "ili", "hash": hash, "vote": "approve"]))
        try c.expectCommitted(c.signer("valley-clinic").sign("policy.vote", ["policy": "ili", "hash": hash, "vote": "approve"]))
        try c.expectCommitted(c.signer("city-medical").sign("policy.vote", ["policy": "ili", "hash": hash, "vote": "reject"]))
        let p = try #require(try c.ledger.value(StateKey.policy("ili")))
        #expect(PolicyStatus.derive(p, at: c.now) == .active)
        #expect(PolicyStatus.approved(p, by: "general-hospital", at: c.now))
        #expect(!PolicyStatus.approved(p, by: "city-medical", at: c.now))
    }

    @Test func votesAreBoundToTheDocumentAndToCustodians() throws {
        let c = try TestConsortium()
        let r = try c.expectCommitted(c.signer("pharmacorp").sign("policy.propose", ["document": policy(c)]))
        let wrongHash = String(repeating: "ab", count: 32)
        #expect(try c.expectRefused(c.signer("general-hospital").sign("policy.vote", ["policy": "trial-eligibility", "hash": .string(wrongHash), "vote": "approve"]))
                == .rejected("vote names a different version of policy trial-eligibility"))
        #expect(try c.expectRefused(c.signer("pharmacorp").sign("policy.vote", ["policy": "trial-eligibility", "hash": r["hash"]!, "vote": "approve"]))
                == .unauthorised("pharmacorp is not a custodian of policy trial-eligibility"))
        // A rejection under the "all" rule rejects the policy.
        try c.expectCommitted(c.signer("valley-clinic").sign("policy.vote", ["policy": "trial-eligibility", "hash": r["hash"]!, "vote": "reject"]))
        #expect(PolicyStatus.derive(try c.ledger.value(StateKey.policy("trial-eligibility"))!, at: c.now) == .rejected)
    }

    @Test func kBelowTheConsortiumFloorIsRefused() throws {
        let c = try TestConsortium()
        #expect(try c.expectRefused(c.signer("pharmacorp").sign("policy.propose", ["document": policy(c, k: 5)])) == .rejected("k = 5 is below the consortium floor 11"))
    }
}

@Suite struct MembershipTests {
    @Test func membersAreAddedAndRemovedByMajorityVote() throws {
        let c = try TestConsortium()
        let newcomer = OrganisationKeys(org: "north-hospital")
        let m = Member(id: "north-hospital", name: "North Hospital", kind: .hospital, signingKey: newcomer.signing.publicKey.base64, encryptionKey: newcomer.agreement.publicKeyBase64)
        let r = try c.expectCommitted(c.signer("general-hospital").sign("member.propose", ["action": "add", "member": m.json]))
        let proposal = try #require(r["proposal"])
        #expect(r["status"] == "open")
        let joiner = TransactionSigner(chain: c.genesis.chain, identity: "north-hospital", key: newcomer.signing)
        // Not a member yet.
        #expect(try c.expectRefused(joiner.sign("identity.enroll", ["name": "x", "role": "physician", "key": .string(SigningKey().publicKey.base64)])) == .unknownSender("north-hospital"))
        // Five voting members: three approvals make the majority.
        try c.expectCommitted(c.signer("city-medical").sign("member.vote", ["proposal": proposal, "approve": true]))
        let done = try c.expectCommitted(c.signer("valley-clinic").sign("member.vote", ["proposal": proposal, "approve": true]))
        #expect(done["status"] == "executed")
        try c.expectCommitted(joiner.sign("identity.enroll", ["name": "x", "role": "physician", "key": .string(SigningKey().publicKey.base64)]))
        // The non-voting audit node may not vote.
        let audit = c.signer("state-health")
        let rm = try c.expectCommitted(c.signer("general-hospital").sign("member.propose", ["action": "remove", "member_id": "north-hospital"]))
        guard case .unauthorised? = try c.expectRefused(audit.sign("member.vote", ["proposal": rm["proposal"]!, "approve": true])) else {
            Issue.record("audit node voted"); return
        }
        // Six voting members now: the proposer and three more make the majority.
        for org in ["city-medical", "healthinsure", "pharmacorp"] {
            try c.expectCommitted(c.signer(org).sign("member.vote", ["proposal": rm["proposal"]!, "approve": true]))
        }
        #expect(try c.ledger.value(StateKey.member("north-hospital"))?["status"] == "removed")
        #expect(try c.expectRefused(joiner.sign("identity.enroll", ["name": "y", "role": "physician", "key": .string(SigningKey().publicKey.base64)])) == .unknownSender("north-hospital"))
    }

    @Test func revokedUsersCanNoLongerSign() throws {
        let c = try TestConsortium()
        let doc = try c.enroll("general-hospital", "dr-a", role: Role.physician)
        try c.expectCommitted(doc.sign("patient.register", ["patient": "PAT-0123456789abcdef0123", "demographic_hash": .string(String(repeating: "a", count: 64))]))
        try c.expectCommitted(c.signer("general-hospital").sign("identity.revoke", ["name": "dr-a"]))
        #expect(try c.expectRefused(doc.sign("patient.register", ["patient": "PAT-0123456789abcdef0124", "demographic_hash": .string(String(repeating: "a", count: 64))])) == .unknownSender("general-hospital/dr-a"))
        // The audit trail names the user, not only the node.
        let tx = try c.ledger.block(at: c.ledger.height - 1).transactions[0]
        #expect(tx.body.sender == "general-hospital/dr-a")
    }
}
