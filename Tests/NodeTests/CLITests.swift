import Foundation
import Testing

/// The `tally` command line as an analyst and a data steward use it: exit codes and output shape.
@Suite struct CommandLineTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func tally(_ args: [String], stdin: String? = nil) throws -> (status: Int32, out: String) { try runTally(args, stdin: stdin) }

    @Test func sqlCheckAcceptsWithPlanAndRefusesWithRuleAndPosition() throws {
        let ok = try tally(["sql", "check", "Queries/ili_surveillance.sql"])
        #expect(ok.status == 0)
        #expect(ok.out.contains("-- merge plan"))
        #expect(ok.out.contains("tally_patients"))
        let bad = try tally(["sql", "check", "-"], stdin: "SELECT patient_id FROM patients")
        #expect(bad.status == 2)
        #expect(bad.out.hasPrefix("error[R2]: line 1, column 8:"))
        #expect(bad.out.contains("hint: SELECT COUNT(DISTINCT"))
        let syntax = try tally(["sql", "format", "-"], stdin: "SELECT FROM WHERE")
        #expect(syntax.status == 2)
        #expect(syntax.out.hasPrefix("error[syntax]:"))
    }

    @Test func policyFilesAreProposedVotedAndListed() throws {
        let root = try temporaryDirectory("cli")
        defer { try? FileManager.default.removeItem(at: root) }
        let dir = root.appendingPathComponent("gh").path
        #expect(try tally(["init", "--org", "general-hospital", "--dir", dir, "--solo"]).status == 0)
        // A one-custodian consortium cannot meet a quorum of two: refused with the contract's reason.
        let refused = try tally(["policy", "propose", "--dir", dir, "Policies/ili-surveillance.json"])
        #expect(refused.status != 0)
        #expect(refused.out.contains("quorum"))
        let proposed = try tally(["policy", "propose", "--dir", dir, "Policies/trial-eligibility-cardio.json"])
        #expect(proposed.status == 0, "\(proposed.out)")
        #expect(proposed.out.contains("status pending"))
        let voted = try tally(["policy", "vote", "--dir", dir, "approve", "trial-eligibility-cardio"])
        #expect(voted.out.contains("status active"))
        let list = try tally(["policy", "list", "--dir", dir])
        #expect(list.out.contains("trial-eligibility-cardio  [active]"))
        #expect(list.out.contains("general-hospital     approve"))
        let verify = try tally(["ledger", "verify", "--dir", dir])
        #expect(verify.status == 0)
        #expect(verify.out.hasPrefix("ok:"))
    }
}
