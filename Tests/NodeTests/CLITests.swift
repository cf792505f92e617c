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

    @Test func anExportWithConsentsIsIngestedWithTheDataStewardAndReRunsAddNothing() throws {
        let root = try temporaryDirectory("cli-ingest")
        defer { try? FileManager.default.removeItem(at: root) }
        let dir = root.appendingPathComponent("gh").path, export = root.appendingPathComponent("export").path
        #expect(try tally(["init", "--org", "general-hospital", "--dir", dir, "--solo"]).status == 0)
        // A one-member consortium: the consents' grantee must be a member, so the hospital's own research.
        let synth = try tally(["synth", "--patients", "120", "--sites", "general-hospital", "--seed", "9", "--sponsor", "general-hospital", "--out", export])
        #expect(synth.status == 0, "\(synth.out)")
        let consents = try #require(synth.out.split(separator: "\n").first { $0.hasPrefix("Consent") }.flatMap { Int($0.split(separator: " ").last ?? "") })
        #expect(consents > 0)
        // Not a steward yet: refused with the reason, nothing loaded.
        let notYet = try tally(["ingest", "fhir", "--dir", dir, "--as", "steward", export + "/general-hospital"])
        #expect(notYet.status != 0)
        #expect(notYet.out.contains("key") || notYet.out.contains("data steward"), "\(notYet.out)")
        #expect(try tally(["identity", "enroll", "--dir", dir, "--name", "steward", "--role", "data-steward"]).status == 0)
        let first = try tally(["ingest", "fhir", "--dir", dir, "--as", "steward", export + "/general-hospital"])
        #expect(first.status == 0, "\(first.out)")
        #expect(first.out.contains("loaded      Consent            \(consents)"), "\(first.out)")
        #expect(first.out.contains("loaded      Patient            120"))
        let again = try tally(["ingest", "fhir", "--dir", dir, "--as", "steward", export + "/general-hospital"])
        #expect(again.out.contains("already in  Consent            \(consents)"), "\(again.out)")
        #expect(!again.out.contains("loaded      "))
        #expect(try tally(["ledger", "verify", "--dir", dir]).status == 0)

        // Without --as, consents are counted, not loaded, and the summary says what to do.
        let other = root.appendingPathComponent("gh2").path
        #expect(try tally(["init", "--org", "general-hospital", "--dir", other, "--solo"]).status == 0)
        let plain = try tally(["ingest", "fhir", "--dir", other, export + "/general-hospital"])
        #expect(plain.status == 0)
        #expect(plain.out.contains("not read    Consent            \(consents)"), "\(plain.out)")
        #expect(plain.out.contains("needs --as a data steward"))
    }
}
