import ArgumentParser
import Federation
import Foundation
import Ledger
import Node
import Workflows

/// Options every workflow command shares: whose node, as whom, through which API.
struct ActorOptions: ParsableArguments {
    @Option(help: "Your organisation's node directory.") var dir: String
    @Option(name: .customLong("as"), help: "Sign as this user of the organisation (key in DIR/keys/users/NAME.key); default: the organisation itself.")
    var user: String?
    @Option(help: "A running node's API address (host:port); without it the node directory's ledger is written directly (solo).") var api: String?

    func submit(_ op: String, _ args: JSON) throws -> JSON { try submitSigned(dir: dir, user: user, api: api, op: op, args: args) }
    func directory() throws -> NodeDirectory {
        do { return try NodeDirectory(dir) } catch let e as NodeDirectory.Error { throw fail(e.description) }
    }
}

func printJSONOrText(_ json: Bool, _ value: JSON, _ text: () -> Void) {
    if json { print(value.pretty()) } else { text() }
}

func formatTime(_ ms: Int64) -> String { MemberService.sqlTime(ms) + " UTC" }

/// `YYYY-MM-DD` (end of that day, UTC) as milliseconds.
func parseDay(_ s: String) -> Int64? {
    let p = s.split(separator: "-").compactMap { Int($0) }
    guard p.count == 3, s.count == 10 else { return nil }
    var t = tm()
    t.tm_year = Int32(p[0] - 1900); t.tm_mon = Int32(p[1] - 1); t.tm_mday = Int32(p[2]); t.tm_hour = 23; t.tm_min = 59; t.tm_sec = 59
    let secs = timegm(&t)
    return secs > 0 ? Int64(secs) * 1000 : nil
}

struct IdentityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity",
        abstract: "Enrol and revoke the people and services who act for your organisation.",
        subcommands: [Enroll.self, Revoke.self]
    )

    struct Enroll: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a user's signing key (DIR/keys/users/NAME.key, mode 0600) and certify it on the ledger with a role.",
            discussion: "Roles: \(Role.all.sorted().joined(separator: ", ")). Transactions the user signs (--as NAME) name them in the audit trail."
        )
        @Option(help: "Your organisation's node directory.") var dir: String
        @Option(help: "A running node's API address (host:port); default: solo.") var api: String?
        @Option(help: "User name (lowercase letters, digits, '-').") var name: String
        @Option(help: "Role.") var role: String

        func run() throws {
            guard Role.all.contains(role) else { throw fail("unknown role \(role); one of \(Role.all.sorted().joined(separator: ", "))") }
            let nd = try ActorOptions.parse(["--dir", dir]).directory()
            guard Member.isValidID(name) else { throw fail("user names are lowercase letters, digits and '-'") }
            let path = nd.userKeyPath(name)
            guard !FileManager.default.fileExists(atPath: path) else { throw fail("\(path) already exists; revoke the user or choose another name") }
            let key = SigningKey()
            let result = try submitSigned(dir: dir, user: nil, api: api, op: "identity.enroll",
                                          args: ["name": .string(name), "role": .string(role), "key": .string(key.publicKey.base64)])
            try KeyFile.write(key.rawRepresentation, to: path)
            print("enrolled \(nd.org)/\(name) as \(role)\(result["identity"]?.stringValue.map { " (\($0))" } ?? ""); key in \(path)")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a user's certificate: their later transactions are refused.")
        @Option(help: "Your organisation's node directory.") var dir: String
        @Option(help: "A running node's API address (host:port); default: solo.") var api: String?
        @Option(help: "User name.") var name: String

        func run() throws {
            _ = try submitSigned(dir: dir, user: nil, api: api, op: "identity.revoke", args: ["name": .string(name)])
            print("revoked \(name)")
        }
    }
}

struct ClaimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claim",
        abstract: "Insurance claims: providers file them, payers verify them against the ledger.",
        discussion: """
        A claim is sealed for exactly the provider and the payer. The payer checks the encounter through
        its public service commitment (the payer never reads the encounter record), its own procedure
        authorisations, and other providers' claims for the same patient, procedure and date.
        """,
        subcommands: [Authorise.self, Submit.self, Verify.self, List.self]
    )

    struct Authorise: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "As a payer: set the procedure codes a provider may claim from you.")
        @OptionGroup var actor: ActorOptions
        @Option(help: "Provider organisation.") var provider: String
        @Option(name: .customLong("procedure"), help: "Procedure code (repeat).") var procedures: [String]

        func run() throws {
            let r = try actor.submit("claim.authorise", ["provider": .string(provider), "procedures": .array(procedures.map { .string($0) })])
            print("\(provider) authorised for \(r["procedures"]?.intValue ?? 0) procedure code(s)")
        }
    }

    struct Submit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "As a provider: file a claim, sealed for you and the payer.",
            discussion: """
            The encounter evidence (your encounter record with this patient on this date) is found in your
            views unless --encounter names it.
              tally claim submit --dir general-hospital --payer healthinsure --number GH-1001 \\
                  --patient PAT-… --procedure 99213 --date 2026-09-20 --amount 125.00
            """
        )
        @OptionGroup var actor: ActorOptions
        @Option(help: "Payer (an insurer member).") var payer: String
        @Option(help: "Your claim number.") var number: String
        @Option(help: "Patient pseudonym (PAT-…).") var patient: String
        @Option(help: "Procedure code.") var procedure: String
        @Option(help: "Date of service, YYYY-MM-DD.") var date: String
        @Option(help: "Amount, e.g. 125.00.") var amount: String
        @Option(help: "Encounter record key (default: looked up in your views).") var encounter: String?

        func run() throws {
            guard let value = Decimal(string: amount), value > 0 else { throw fail("--amount must be a positive amount such as 125.00") }
            let cents = NSDecimalNumber(decimal: value * 100).int64Value
            let nd = try actor.directory()
            let keys = try nd.keys()
            let ledger = try nd.openLedger()
            var enc = encounter
            if enc == nil, FileManager.default.fileExists(atPath: nd.viewsPath) {
                let views = try ViewStore(path: nd.viewsPath, org: keys.org, chain: ledger.chain, agreementKey: keys.agreement)
                enc = try views.encounterRecord(patient: patient, date: date, site: keys.org)
            }
            let claim = Claim(localID: number, patient: patient, provider: keys.org, procedureCode: procedure, serviceDate: date, amountCents: cents, encounterRecord: enc)
            let args: JSON
            do { args = try Claims.submission(claim, provider: keys, ledger: ledger, payer: payer) } catch let e as WorkflowError { throw fail(e.description) }
            let r = try actor.submit("claim.submit", args)
            print("filed \(r["claim"]?.stringValue ?? "?") with \(payer)\(enc == nil ? " — WARNING: no encounter of this patient on \(date) in your views; the payer will deny it" : "")")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "As a payer: verify a claim (approved, denied with reason, or flagged as a duplicate across providers).",
            discussion: "Exit status: 0 approved, 4 flagged, 5 denied. --record writes your decision to the ledger."
        )
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Claim id (claim-…).") var claim: String
        @Flag(help: "Record the outcome on the ledger (claim.decide).") var record = false
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let nd = try actor.directory()
            let verdict: ClaimVerdict
            do { verdict = try ClaimVerifier(ledger: try nd.openLedger(), keys: try nd.keys()).verify(claim) } catch let e as WorkflowError { throw fail(e.description) }
            printJSONOrText(json, verdict.json) {
                print("\(claim): \(verdict.outcome.rawValue.uppercased())\(verdict.reason.isEmpty ? "" : " (\(verdict.reason))")")
                print("  \(verdict.message)")
                print("  provider \(verdict.claim.provider), procedure \(verdict.claim.procedureCode), service date \(verdict.claim.serviceDate), amount \(String(format: "%.2f", Double(verdict.claim.amountCents) / 100))")
                for d in verdict.duplicates { print("  also claimed: \(d.claim) by \(d.provider)") }
            }
            if record {
                _ = try actor.submit("claim.decide", ["claim": .string(claim), "outcome": .string(verdict.outcome.rawValue), "reason": .string(verdict.reason)])
                if !json { print("  decision recorded on the ledger") }
            }
            switch verdict.outcome {
            case .approved: return
            case .flagged: throw ExitCode(4)
            case .denied: throw ExitCode(5)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "As a payer: the claims addressed to you, newest first, with their status.")
        @OptionGroup var actor: ActorOptions

        func run() throws {
            let nd = try actor.directory()
            for c in try ClaimVerifier(ledger: try nd.openLedger(), keys: try nd.keys()).pending() {
                print("\(c["id"]?.stringValue ?? "?")  \(c["status"]?.stringValue ?? "?")  from \(c["provider"]?.stringValue ?? "?")  filed \(formatTime(c["submitted_at"]?.intValue ?? 0))")
            }
        }
    }
}

struct ConsentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consent",
        abstract: "The patient portal: grant, list and revoke a patient's consent (effective from the next block).",
        discussion: """
        Grants and revocations are signed by a patient-portal identity (or a data steward) acting on
        the patient's behalf, e.g. --as portal after `tally identity enroll --name portal --role patient-portal`.
        """,
        subcommands: [Grant.self, List.self, Revoke.self]
    )

    struct Grant: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grant a member access for a scope until an expiry date.")
        @OptionGroup var actor: ActorOptions
        @Option(help: "Patient pseudonym (PAT-…).") var patient: String
        @Option(help: "The member receiving consent.") var grantee: String
        @Option(help: "Scope: treatment, payment, operations, research, all, or trial:ID.") var scope: String
        @Option(help: "Last day of the consent, YYYY-MM-DD.") var expires: String

        func run() throws {
            guard ConsentScope.isValid(scope) else { throw fail("unknown scope \(scope): use treatment, payment, operations, research, all or trial:ID") }
            guard let until = parseDay(expires) else { throw fail("--expires must be a date YYYY-MM-DD") }
            let r = try actor.submit("consent.grant", ["patient": .string(patient), "grantee": .string(grantee), "scope": .string(scope), "expires": .int(until)])
            print("granted \(r["consent"]?.stringValue ?? "?"): \(grantee) may use this patient's data for \(scope) until \(expires)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a patient's consents with their status now.")
        @OptionGroup var actor: ActorOptions
        @Option(help: "Patient pseudonym (PAT-…).") var patient: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let grants: [ConsentPortal.Grant]
            do { grants = try ConsentPortal.list(ledger: try actor.directory().openLedger(), patient: patient, at: Clock.wallMillis()) } catch let e as WorkflowError { throw fail(e.description) }
            printJSONOrText(json, .array(grants.map(\.json))) {
                if grants.isEmpty { print("no consents recorded") }
                for g in grants { print("\(g.id)  \(g.status.padding(toLength: 8, withPad: " ", startingAt: 0))  \(g.grantee)  \(g.scope)  until \(formatTime(g.expires))  (granted by \(g.grantedBy))") }
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a consent.")
        @OptionGroup var actor: ActorOptions
        @Option(help: "Patient pseudonym (PAT-…).") var patient: String
        @Option(help: "Consent id (from `tally consent list`).") var consent: String

        func run() throws {
            _ = try actor.submit("consent.revoke", ["patient": .string(patient), "consent": .string(consent)])
            print("revoked \(consent); queries pinned at the next block no longer include this patient's data under it")
        }
    }
}

struct AccessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access",
        abstract: "Patient access reports, emergency (break-glass) access, and the privacy officer's review queue.",
        subcommands: [Report.self, Emergency.self, Queue.self, Review.self]
    )

    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Everything that touched one patient's data, each entry with its ledger inclusion proof.",
            discussion: "Queries are listed with policy, requester, time and the sites whose records of the patient they read — never their results. --out writes the report with proofs (JSON), checkable offline."
        )
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Patient pseudonym (PAT-…).") var patient: String
        @Option(help: "Write the full report with proofs (JSON) to this file.") var out: String?
        @Flag(help: "Print JSON (with proofs).") var json = false

        func run() throws {
            let nd = try actor.directory()
            let ledger = try nd.openLedger()
            let report: AccessReport
            do { report = try AccessReport.build(ledger: ledger, patient: patient) } catch let e as WorkflowError { throw fail(e.description) }
            let genesis = try nd.genesis()
            var failures = 0
            for e in report.entries { do { try e.proof.verify(genesis: genesis) } catch { failures += 1 } }
            if let out { try Data((report.json.pretty() + "\n").utf8).write(to: URL(fileURLWithPath: out), options: .atomic) }
            printJSONOrText(json, report.json) {
                print("access report for \(patient) at ledger height \(report.height): \(report.entries.count) entr\(report.entries.count == 1 ? "y" : "ies")")
                for e in report.entries {
                    print("  \(formatTime(e.time))  \(e.kind.padding(toLength: 11, withPad: " ", startingAt: 0))  \(e.summary)")
                    print("      tx \(e.tx.hex.prefix(16))… in block \(e.proof.header.height), proof \(failures == 0 ? "verifies" : "checked")")
                }
                if let out { print("report with proofs written to \(out)") }
            }
            if failures > 0 { throw fail("\(failures) proof(s) did not verify against \(nd.genesisPath)") }
        }
    }

    struct Emergency: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record an emergency (break-glass) access to a patient's data: allowed, flagged, and queued for review.")
        @OptionGroup var actor: ActorOptions
        @Option(help: "Patient pseudonym (PAT-…).") var patient: String
        @Option(help: "Why (kept on the ledger; no clinical detail).") var purpose: String

        func run() throws {
            let r = try actor.submit("consent.access", ["patient": .string(patient), "scope": .string(ConsentScope.emergency), "purpose": .string(purpose)])
            print("break-glass access \(r["access"]?.stringValue ?? "?") recorded; it waits in the custodians' review queue")
        }
    }

    struct Queue: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Break-glass accesses awaiting review (to your patients or by your staff), oldest first.")
        @OptionGroup var actor: ActorOptions
        @Option(help: "Report accesses unreviewed for longer than this many hours as overdue.") var overdueAfterHours: Int64 = 72
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let nd = try actor.directory()
            let items = try BreakGlassQueue.pending(ledger: try nd.openLedger(), org: nd.org, now: Clock.wallMillis(), reviewWithin: overdueAfterHours * 3_600_000)
            printJSONOrText(json, .array(items.map(\.json))) {
                if items.isEmpty { print("no break-glass access awaits review") }
                for i in items {
                    print("\(i.access)  \(i.overdue ? "OVERDUE" : "pending")  \(formatTime(i.time))  \(i.actor)  patient \(i.patient)  purpose: \(i.purpose)")
                }
                let overdue = items.filter(\.overdue).count
                if overdue > 0 { print("\(overdue) access(es) unreviewed for more than \(overdueAfterHours) h") }
            }
        }
    }

    struct Review: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a privacy officer's review of a break-glass access.")
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Access id (access-…).") var access: String
        @Option(help: "justified or unjustified.") var outcome: String
        @Option(help: "Note (no clinical detail).") var note: String = ""

        func run() throws {
            guard outcome == "justified" || outcome == "unjustified" else { throw fail("--outcome must be justified or unjustified") }
            _ = try actor.submit("consent.review", ["access": .string(access), "outcome": .string(outcome), "note": .string(note)])
            print("\(access) reviewed: \(outcome)")
        }
    }
}

struct AnchorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anchor",
        abstract: "Research data integrity: record a dataset's SHA-256 on the ledger, and later check the file is unchanged.",
        discussion: """
          tally anchor trial-export.csv --label "cardio-2026 export v1" --dir pharmacorp
          tally anchor verify trial-export.csv --dir pharmacorp
        The file itself never goes on the ledger.
        """,
        subcommands: [Record.self, Verify.self],
        defaultSubcommand: Record.self
    )

    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "record", abstract: "Anchor a file's SHA-256 with a label.")
        @OptionGroup var actor: ActorOptions
        @Argument(help: "The dataset file.") var file: String
        @Option(help: "A label for the dataset (e.g. trial and export version).") var label: String

        func run() throws {
            let (digest, size): (Hash32, Int64)
            do { (digest, size) = try Anchors.digest(file: file) } catch let e as Anchors.Failure { throw fail(e.description) }
            let r = try actor.submit("anchor.record", ["sha256": .string(digest.hex), "label": .string(label), "bytes": .int(size)])
            print("anchored \(file) (\(size) bytes, SHA-256 \(digest.hex)) as \"\(label)\" in block \(r["height"]?.intValue ?? -1)")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that a file is unchanged since it was anchored; prints the block and the inclusion proof.",
            discussion: "Exit status: 0 unchanged, 3 changed or never anchored."
        )
        @OptionGroup var actor: ActorOptions
        @Argument(help: "The dataset file.") var file: String
        @Option(help: "The label it was anchored under (reports a change instead of 'not anchored').") var label: String?
        @Option(help: "The organisation that anchored it (with --label; default: yours).") var org: String?
        @Option(help: "Write the inclusion proof (JSON) to this file.") var proof: String?

        func run() throws {
            let nd = try actor.directory()
            let verdict: Anchors.Verdict
            do { verdict = try Anchors.verify(ledger: try nd.openLedger(), file: file, label: label, org: org ?? nd.org) } catch let e as Anchors.Failure { throw fail(e.description) }
            switch verdict {
            case .unchanged(let entry, let p):
                try p.verify(genesis: try nd.genesis())
                print("UNCHANGED: \(file) matches \"\(entry["label"]?.stringValue ?? "")\" anchored by \(entry["submitter"]?.stringValue ?? "?") at \(formatTime(entry["time"]?.intValue ?? 0))")
                print("  block \(p.header.height), transaction \(p.tx.hex); inclusion proof verifies against the genesis file")
                if let proof { try Data((p.json.pretty() + "\n").utf8).write(to: URL(fileURLWithPath: proof), options: .atomic) }
            case .changed(let anchored):
                print("CHANGED: \(file) differs from \"\(anchored["label"]?.stringValue ?? "")\" as anchored at \(formatTime(anchored["time"]?.intValue ?? 0)) (block \(anchored["height"]?.intValue ?? -1), SHA-256 \(anchored["sha256"]?.stringValue ?? "?"))")
                throw ExitCode(3)
            case .notAnchored:
                print("NOT ANCHORED: no dataset with this file's SHA-256 is on the ledger")
                throw ExitCode(3)
            }
        }
    }
}
