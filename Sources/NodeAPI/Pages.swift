import Consensus
import DeidSQL
import Federation
import Foundation
import Hummingbird
import Ledger
import NIOCore
import SQLiteStore
import Workflows

/// Server-rendered pages for the people who run and use a node: ledger explorer, the hospital's policy
/// queue (with approve / reject), the public-health surveillance chart, and the audit view per patient
/// pseudonym. Plain HTML with inline CSS and SVG — no script, no external resource at run time.
public struct ConsolePages: Sendable {
    /// Writes through the pages (votes) need this token, kept in the node directory (mode 0600).
    public let token: String
    /// Where the node's query templates live (`Queries/`), to show a policy's SQL text.
    public let queriesDirectory: String?
    /// The public-health node's surveillance store, when there is one.
    public let resultsPath: String?

    public init(token: String, queriesDirectory: String?, resultsPath: String?) {
        self.token = token
        self.queriesDirectory = queriesDirectory
        self.resultsPath = resultsPath
    }

    /// The console token of a node directory: created on first use (32 random bytes, mode 0600). The
    /// token is the file's text, as a steward copies it into the page.
    public static func token(in directory: URL) throws -> String {
        let path = directory.appendingPathComponent("keys/console.token").path
        if FileManager.default.fileExists(atPath: path) { return try KeyFile.read(path).base64 }
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        try KeyFile.write(bytes, to: path)
        return bytes.base64
    }
}

enum HTML {
    static func esc(_ s: String) -> String {
        var o = ""
        o.reserveCapacity(s.utf8.count)
        for c in s {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            case "'": o += "&#39;"
            default: o.append(c)
            }
        }
        return o
    }

    static func page(_ title: String, org: String, _ body: String) -> Response {
        let html = """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(esc(title)) · Tally · \(esc(org))</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b2330;background:#f6f7f9}
        header{background:#123a5a;color:#fff;padding:10px 24px;display:flex;gap:22px;align-items:baseline}
        header a{color:#d6e6f5;text-decoration:none} header b{font-size:17px}
        main{padding:18px 24px;max-width:1180px}
        table{border-collapse:collapse;background:#fff;margin:8px 0 18px} td,th{border:1px solid #d5dae1;padding:4px 9px;text-align:left;vertical-align:top}
        th{background:#eef1f5} code,pre{font:13px ui-monospace,monospace} pre{background:#fff;border:1px solid #d5dae1;padding:10px;overflow:auto}
        .ok{color:#176b2c;font-weight:600} .bad{color:#a4161a;font-weight:600} .muted{color:#6b7584}
        .card{background:#fff;border:1px solid #d5dae1;padding:12px 16px;margin:0 0 18px}
        .status-active{color:#176b2c} .status-pending{color:#9a6700} .status-rejected,.status-expired{color:#a4161a}
        button{padding:5px 14px;margin-right:8px} input[type=text],input[type=password]{padding:4px 8px;width:420px}
        </style></head><body>
        <header><b>Tally</b><span>\(esc(org))</span><a href="/">Node</a><a href="/explorer">Ledger</a><a href="/policies">Policies</a>
        <a href="/surveillance">Surveillance</a><a href="/audit">Audit</a></header>
        <main><h1>\(esc(title))</h1>
        \(body)
        </main></body></html>
        """
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .init("Content-Security-Policy")!: "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'"],
                        body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func time(_ ms: Int64) -> String { MemberService.sqlTime(ms) + " UTC" }
}

extension NodeAPI {
    func addPages(to router: Router<BasicRequestContext>, _ pages: ConsolePages) {
        let api = self
        let org = node.org
        router.get("/") { _, _ in
            let s = api.node.status
            let (ready, reasons) = api.readiness()
            var b = "<div class=card><table>"
            for (k, v) in [("organisation", org), ("chain", api.node.ledger.chain), ("role", s.role.rawValue), ("term", String(s.term)),
                           ("leader", s.leader ?? "—"), ("ledger height", String(api.node.ledger.height)),
                           ("views height", api.federation.map { String($0.viewsHeight) } ?? "—"),
                           ("head", api.node.ledger.head.hash.hex)] {
                b += "<tr><th>\(HTML.esc(k))</th><td><code>\(HTML.esc(v))</code></td></tr>"
            }
            b += "<tr><th>ready</th><td>\(ready ? "<span class=ok>ready</span>" : "<span class=bad>not ready</span>: " + HTML.esc(reasons.joined(separator: "; ")))</td></tr></table></div>"
            b += "<p>Machine-readable: <a href=\"/v1/status\">/v1/status</a>, <a href=\"/metrics\">/metrics</a>, <a href=\"/openapi.json\">/openapi.json</a>.</p>"
            return HTML.page("Node", org: org, b)
        }
        router.get("/explorer") { _, _ in
            let top = api.node.ledger.height
            var b = "<p>Ledger height \(top). Blocks, newest first. Transactions show who acted and what operation; their arguments (sealed records, pseudonyms) are not displayed.</p><table><tr><th>height</th><th>time</th><th>proposer</th><th>transactions</th><th>hash</th></tr>"
            var h = top
            while h >= max(0, top - 49) {
                let blk = try api.node.ledger.block(at: h)
                b += "<tr><td><a href=\"/explorer/blocks/\(h)\">\(h)</a></td><td>\(HTML.time(blk.header.time))</td><td>\(HTML.esc(blk.header.proposer))</td><td>\(blk.transactions.count)</td><td><code>\(blk.hash.hex.prefix(20))…</code></td></tr>"
                h -= 1
            }
            return HTML.page("Ledger", org: org, b + "</table>")
        }
        router.get("/explorer/blocks/:height") { _, context in
            guard let h = context.parameters.get("height").flatMap({ Int64($0) }), h >= 0, h <= api.node.ledger.height else {
                throw HTTPError(.notFound, message: "no such block")
            }
            let blk = try api.node.ledger.block(at: h)
            var b = "<div class=card><table>"
            for (k, v) in [("height", String(h)), ("hash", blk.hash.hex), ("previous", blk.header.previous.hex), ("time", HTML.time(blk.header.time)),
                           ("proposer", blk.header.proposer), ("transactions root", blk.header.txRoot.hex), ("state root", blk.header.stateRoot.hex),
                           ("ledger root (checkpoint)", blk.checkpoint.ledgerRoot.hex), ("checkpoint signed by", blk.checkpoint.signer)] {
                b += "<tr><th>\(HTML.esc(k))</th><td><code>\(HTML.esc(v))</code></td></tr>"
            }
            b += "</table></div><h2>Transactions</h2><table><tr><th>#</th><th>operation</th><th>sender</th><th>hash</th></tr>"
            for (i, tx) in blk.transactions.enumerated() {
                b += "<tr><td>\(i)</td><td><code>\(HTML.esc(tx.body.op))</code></td><td>\(HTML.esc(tx.body.sender))</td><td><a href=\"/explorer/tx/\(tx.hash.hex)\"><code>\(tx.hash.hex.prefix(20))…</code></a></td></tr>"
            }
            return HTML.page("Block \(h)", org: org, b + "</table>")
        }
        router.get("/explorer/tx/:hash") { _, context in
            guard let hash = context.parameters.get("hash").flatMap(Hash32.init(hex:)), let r = try api.node.ledger.receipt(hash) else {
                throw HTTPError(.notFound, message: "no committed transaction with that hash")
            }
            let proof = try api.node.ledger.inclusionProof(for: hash)
            let verdict: String
            do { try proof.verify(genesis: api.node.ledger.genesis); verdict = "<p class=ok id=proof-verdict>Proof verifies</p>" } catch {
                verdict = "<p class=bad id=proof-verdict>Proof does NOT verify: \(HTML.esc("\(error)"))</p>"
            }
            let tx = try api.node.ledger.block(at: r.height).transactions[r.index]
            var b = "<div class=card><table>"
            for (k, v) in [("hash", hash.hex), ("operation", tx.body.op), ("sender", tx.body.sender), ("block", String(r.height)), ("index in block", String(r.index))] {
                b += "<tr><th>\(HTML.esc(k))</th><td><code>\(HTML.esc(v))</code></td></tr>"
            }
            b += "</table></div><h2>Inclusion proof</h2>" + verdict
            b += "<ol><li>The transaction's leaf hash, combined with the \(proof.txPath.count) sibling hash(es) below, gives block \(proof.header.height)'s transactions root <code>\(proof.header.txRoot.hex.prefix(16))…</code>.</li>"
            b += "<li>The block's header hash, combined with \(proof.blockPath.count) sibling hash(es), gives the ledger root <code>\(proof.checkpoint.ledgerRoot.hex.prefix(16))…</code> of the checkpoint at height \(proof.checkpoint.height).</li>"
            b += "<li>That checkpoint is signed by <b>\(HTML.esc(proof.checkpoint.signer))</b>, a member listed in the genesis file; the signature is checked with its public key.</li></ol>"
            b += "<pre>\(HTML.esc(proof.json.pretty()))</pre><p class=muted>Check it offline: save the JSON and run <code>tally ledger check-proof --genesis genesis.json proof.json</code>.</p>"
            return HTML.page("Transaction", org: org, b)
        }
        router.get("/audit") { _, _ in
            HTML.page("Audit", org: org, """
            <form method=post action="/audit"><p>Patient pseudonym: <input type=text name=patient placeholder="PAT-…"></p>
            <p>Console token: <input type=password name=token autocomplete=off></p><button id=show-report>Show access report</button></form>
            <p class=muted>The report names everyone who touched this patient's data; it needs the console token
            (the node directory's keys/console.token).</p>
            """)
        }
        router.post("/audit") { request, _ in
            let form = HTMLForm.parse(String(buffer: try await request.body.collect(upTo: 16 << 10)))
            guard let given = form["token"]?.trimmingCharacters(in: .whitespacesAndNewlines), ConsolePages.constantTimeEqual(given, pages.token) else {
                throw HTTPError(.forbidden, message: "the console token is missing or wrong (it is in the node directory: keys/console.token)")
            }
            let pid = (form["patient"] ?? "").trimmingCharacters(in: .whitespaces)
            let result = await offload { Result { try AccessReport.build(ledger: api.node.ledger, patient: pid) } }
            guard case .success(let report) = result else {
                return HTML.page("Audit", org: org, "<p class=bad>\(HTML.esc(pid)) is not registered on this ledger.</p>")
            }
            var b = "<p>Everything that touched the data of <code>\(HTML.esc(pid))</code>, at ledger height \(report.height): \(report.entries.count) entr\(report.entries.count == 1 ? "y" : "ies"). Queries show policy, requester and the sites whose records were read — never results.</p>"
            b += "<table id=report><tr><th>time</th><th>kind</th><th>who</th><th>what</th><th>block</th><th>proof</th></tr>"
            for e in report.entries {
                let ok = (try? e.proof.verify(genesis: api.node.ledger.genesis)) != nil
                b += "<tr><td>\(HTML.time(e.time))</td><td>\(HTML.esc(e.kind))</td><td>\(HTML.esc(e.actor))</td><td>\(HTML.esc(e.summary))</td><td><a href=\"/explorer/tx/\(e.tx.hex)\">\(e.proof.header.height)</a></td><td>\(ok ? "<span class=ok>verifies</span>" : "<span class=bad>fails</span>")</td></tr>"
            }
            return HTML.page("Audit: \(pid)", org: org, b + "</table>")
        }
        router.get("/policies") { request, _ in
            let flash = request.uri.queryParameters.get("done").map { "<p class=ok id=flash>\(HTML.esc(String($0)))</p>" } ?? ""
            let body = await offload { api.policyQueue(pages) }
            return HTML.page("Policies", org: org, flash + body)
        }
        router.post("/policies/:id/vote") { request, context in
            let id = context.parameters.get("id") ?? ""
            let body = try await request.body.collect(upTo: 16 << 10)
            let form = HTMLForm.parse(String(buffer: body))
            guard let given = form["token"]?.trimmingCharacters(in: .whitespacesAndNewlines), ConsolePages.constantTimeEqual(given, pages.token) else {
                throw HTTPError(.forbidden, message: "the console token is missing or wrong (it is in the node directory: keys/console.token)")
            }
            guard let vote = form["vote"], ["approve", "reject"].contains(vote) else { throw HTTPError(.badRequest, message: "vote must be approve or reject") }
            guard let p = try api.node.ledger.value(StateKey.policy(id)), let hash = p["hash"] else { throw HTTPError(.notFound, message: "no policy \(id)") }
            guard let fed = api.federation else { throw HTTPError(.serviceUnavailable, message: "this node cannot sign") }
            let outcome = await offload { Result { try fed.submitAsOrganisation("policy.vote", ["policy": .string(id), "hash": hash, "vote": .string(vote)]) } }
            switch outcome {
            case .success(let r):
                let msg = "\(org) \(vote == "approve" ? "approved" : "rejected") \(id) in block \(r.height); status \(r.result["status"]?.stringValue ?? "?")"
                return Response(status: .seeOther, headers: [.location: "/policies?done=" + (msg.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")])
            case .failure(let e): throw HTTPError(.unprocessableContent, message: "vote not recorded: \(e)")
            }
        }
        router.get("/surveillance") { _, _ in
            HTML.page("Surveillance", org: org, api.surveillanceChart(pages))
        }
    }

    /// The policy queue: pending first, each with its query text, validation report, this site's
    /// preview and the vote buttons.
    func policyQueue(_ pages: ConsolePages) -> String {
        let now = Clock.wallMillis()
        let policies = ((try? node.ledger.entries(prefix: "policy/")) ?? []).map(\.value)
        let order: [PolicyStatus: Int] = [.pending: 0, .active: 1, .rejected: 2, .expired: 3]
        let sorted = policies.sorted { (order[PolicyStatus.derive($0, at: now)] ?? 9, $0["id"]?.stringValue ?? "") < (order[PolicyStatus.derive($1, at: now)] ?? 9, $1["id"]?.stringValue ?? "") }
        if sorted.isEmpty { return "<p>No policy has been proposed.</p>" }
        let templates = ConsolePages.templatesByHash(pages.queriesDirectory)
        var b = ""
        for p in sorted {
            let id = p["id"]?.stringValue ?? "?"
            let status = PolicyStatus.derive(p, at: now).rawValue
            let doc = p["document"] ?? [:]
            b += "<div class=card id=\"policy-\(HTML.esc(id))\"><h2>\(HTML.esc(id)) <span class=\"status-\(status)\">[\(status)]</span></h2>"
            b += "<p>\(HTML.esc(doc["purpose"]?.stringValue ?? ""))</p><table>"
            b += "<tr><th>proposed by</th><td>\(HTML.esc(p["proposer"]?.stringValue ?? "?")) at \(HTML.time(p["proposed_at"]?.intValue ?? 0))</td></tr>"
            b += "<tr><th>legal basis</th><td>\(HTML.esc(doc["legal_basis"]?.stringValue ?? "—"))</td></tr>"
            b += "<tr><th>requesters</th><td>\(HTML.esc((doc["requesters"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", ")))</td></tr>"
            b += "<tr><th>k</th><td>\(p["k"]?.intValue ?? 0)</td></tr>"
            if let c = doc["consent"] { b += "<tr><th>consent required</th><td>\(HTML.esc(c["scope"]?.stringValue ?? "")) for \(HTML.esc(c["grantee"]?.stringValue ?? "the requester"))</td></tr>" }
            b += "<tr><th>expires</th><td>\(HTML.time(p["expires"]?.intValue ?? 0))</td></tr>"
            b += "<tr><th>approval</th><td>\(HTML.esc(p["rule"]?.stringValue ?? "all"))\(p["rule"]?.stringValue == "quorum" ? " of \(p["quorum"]?.intValue ?? 0)" : "")</td></tr>"
            for c in (p["custodians"]?.arrayValue ?? []).compactMap(\.stringValue) {
                let v = p["votes"]?[c]
                b += "<tr><th>vote of \(HTML.esc(c))</th><td class=vote>\(HTML.esc(v?["vote"]?.stringValue ?? "—"))\(v?["by"]?.stringValue.map { " by " + HTML.esc($0) } ?? "")</td></tr>"
            }
            b += "</table>"
            if doc["ad_hoc"]?.boolValue == true { b += "<p>Ad-hoc queries allowed within the dialect's limits.</p>" }
            for t in doc["templates"]?.arrayValue ?? [] {
                guard let sha = t["sha256"]?.stringValue else { continue }
                guard let (file, sql) = templates[sha] else {
                    b += "<p class=bad>Template <code>\(sha.prefix(16))…</code>: its text is not in this node's query folder; do not approve what you cannot read.</p>"
                    continue
                }
                b += "<h3>\(HTML.esc(file))</h3><pre>\(HTML.esc(sql))</pre>"
                b += previewSection(policy: id, document: doc, sql: sql)
            }
            if (p["custodians"]?.arrayValue ?? []).contains(.string(node.org)), status == "pending" || status == "active" {
                b += """
                <form method=post action="/policies/\(HTML.esc(id))/vote"><p>Console token: <input type=password name=token autocomplete=off></p>
                <button name=vote value=approve id="approve-\(HTML.esc(id))">Approve</button><button name=vote value=reject id="reject-\(HTML.esc(id))">Reject</button>
                <span class=muted>Signed by \(HTML.esc(node.org)) and written to the ledger; the vote names this policy's hash <code>\((p["hash"]?.stringValue ?? "").prefix(16))…</code>.</span></form>
                """
            }
            b += "</div>"
        }
        return b
    }

    /// The validation report and what this site would release now, for one template.
    func previewSection(policy: String, document: JSON, sql: String) -> String {
        guard let fed = federation else { return "" }
        let allow = QueryAllowances(minMax: document["allow_min_max"]?.boolValue ?? false)
        var b: String
        do {
            let r = try QueryChecker(allowances: allow, valueSets: fed.valueSets).check(sql)
            b = "<p class=ok>Validation: accepted. Members return aggregates only; merge plan: <code>\(HTML.esc(r.rewrite.plan.description.replacingOccurrences(of: "\n", with: "; ")))</code></p>"
        } catch {
            return "<p class=bad>Validation: refused — \(HTML.esc(error.description))</p>"
        }
        let params = ConsolePages.defaultParameters(sql)
        let h = node.ledger.height
        guard let time = try? node.ledger.block(at: h).header.time else { return b }
        let requester = document["requesters"]?.arrayValue?.first?.stringValue ?? node.org
        let request = QueryRequest(queryID: "preview", policyID: policy, requester: requester, sql: sql, parameters: params, pinnedTime: time, pinnedHeight: min(h, fed.viewsHeight))
        do {
            let (r, _) = try fed.withViews { try fed.member.preview(request) }
            b += "<p>What <b>\(HTML.esc(node.org))</b> would release now (parameters: \(params.isEmpty ? "none" : HTML.esc(params.map { "\($0.key)=\($0.value.displayText)" }.sorted().joined(separator: ", ")))): \(r.rows.count) row(s), \(r.suppressedRows) withheld (fewer than \(r.k) patients), \(r.suppressedCells) cell(s) withheld.</p><table class=preview><tr>"
            b += r.columns.map { "<th>\(HTML.esc($0))</th>" }.joined() + "</tr>"
            for row in r.rows.prefix(50) {
                b += "<tr>" + row.map { cell -> String in
                    switch cell {
                    case .value(let v): return "<td>\(HTML.esc(v.displayText))</td>"
                    case .suppressed: return "<td class=muted>suppressed</td>"
                    }
                }.joined() + "</tr>"
            }
            b += "</table>"
        } catch {
            b += "<p class=muted>Preview unavailable: \(HTML.esc("\(error)"))</p>"
        }
        return b
    }

    /// Daily counts by region as an SVG line chart; suppressed days are marked, not drawn as zero.
    func surveillanceChart(_ pages: ConsolePages) -> String {
        guard let path = pages.resultsPath, FileManager.default.fileExists(atPath: path), let store = try? SurveillanceResults(path: path),
              let rows = try? store.rows(after: 0, limit: 100_000).map(\.row), !rows.isEmpty else {
            return "<p>No surveillance results on this node yet. Public health stores them with <code>tally surveillance pull</code>.</p>"
        }
        // The latest pull of each (region, day).
        var latest: [String: SurveillanceResults.Row] = [:]
        for r in rows { latest["\(r.region)|\(r.day)"] = r }
        let days = Array(Set(latest.values.map(\.day))).sorted()
        let regions = Array(Set(latest.values.map(\.region))).sorted()
        let maxCount = max(1, latest.values.compactMap(\.count).max() ?? 1)
        let w = 900.0, h = 320.0, left = 50.0, bottom = 40.0, top = 20.0
        let xStep = days.count > 1 ? (w - left - 20) / Double(days.count - 1) : 0
        func x(_ i: Int) -> Double { left + Double(i) * xStep }
        func y(_ v: Int64) -> Double { top + (h - top - bottom) * (1 - Double(v) / Double(maxCount)) }
        let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
        var svg = "<svg id=chart xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" role=img aria-label=\"daily counts by region\" style=\"background:#fff;border:1px solid #d5dae1\">"
        svg += "<line x1=\"\(left)\" y1=\"\(h - bottom)\" x2=\"\(w - 10)\" y2=\"\(h - bottom)\" stroke=\"#888\"/><line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(h - bottom)\" stroke=\"#888\"/>"
        svg += "<text x=\"5\" y=\"\(top + 5)\" font-size=\"11\">\(maxCount)</text><text x=\"30\" y=\"\(h - bottom)\" font-size=\"11\">0</text>"
        for (i, d) in days.enumerated() where days.count <= 14 || i % max(1, days.count / 10) == 0 {
            svg += "<text x=\"\(x(i) - 20)\" y=\"\(h - bottom + 16)\" font-size=\"10\">\(HTML.esc(String(d.dropFirst(5))))</text>"
        }
        var legend = ""
        var suppressedDays = 0
        for (ri, region) in regions.enumerated() {
            let color = palette[ri % palette.count]
            var segment: [String] = []
            var paths: [[String]] = []
            for (i, d) in days.enumerated() {
                // A region-day without a row was not released: fewer than k patients (or none). A
                // federated result cannot tell the two apart, so neither is drawn as zero.
                if let c = latest["\(region)|\(d)"]?.count {
                    segment.append("\(x(i)),\(y(c))")
                    svg += "<circle cx=\"\(x(i))\" cy=\"\(y(c))\" r=\"2.5\" fill=\"\(color)\"><title>\(HTML.esc(region)) \(HTML.esc(d)): \(c)</title></circle>"
                } else {
                    // Suppressed: a hollow marker on the axis and a break in the line — never a zero.
                    suppressedDays += 1
                    if !segment.isEmpty { paths.append(segment); segment = [] }
                    svg += "<rect class=suppressed x=\"\(x(i) - 3)\" y=\"\(h - bottom - 9 - Double(ri) * 7)\" width=\"6\" height=\"6\" fill=\"none\" stroke=\"\(color)\"><title>\(HTML.esc(region)) \(HTML.esc(d)): suppressed (fewer than k)</title></rect>"
                }
            }
            if !segment.isEmpty { paths.append(segment) }
            for p in paths where p.count > 1 { svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.6\" points=\"\(p.joined(separator: " "))\"/>" }
            legend += "<span style=\"color:\(color);margin-right:16px\">■ \(HTML.esc(region))</span>"
        }
        svg += "</svg>"
        var table = "<table id=counts><tr><th>day</th>" + regions.map { "<th>\(HTML.esc($0))</th>" }.joined() + "</tr>"
        for d in days.reversed().prefix(30) {
            table += "<tr><td>\(HTML.esc(d))</td>" + regions.map { r -> String in
                latest["\(r)|\(d)"]?.count.map { "<td>\($0)</td>" } ?? "<td class=muted>suppressed</td>"
            }.joined() + "</tr>"
        }
        return "<p>\(HTML.esc(rows.first?.valueSet ?? "")) — daily counts by region from \(days.first ?? "") to \(days.last ?? ""). \(suppressedDays) region-day(s) suppressed (fewer than k patients, or none — a federated count cannot say which), shown as hollow squares, not zeros.</p>"
            + "<p>\(legend)</p>" + svg + "<h2>Counts</h2>" + table + "</table>"
    }
}

extension ConsolePages {
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var d: UInt8 = 0
        for i in 0..<x.count { d |= x[i] ^ y[i] }
        return d == 0
    }

    /// Query templates in `dir` (recursively, `*.sql`) by the SHA-256 of their bytes.
    static func templatesByHash(_ dir: String?) -> [String: (String, String)] {
        guard let dir, let e = FileManager.default.enumerator(atPath: dir) else { return [:] }
        var out: [String: (String, String)] = [:]
        for case let f as String in e where f.hasSuffix(".sql") {
            guard let d = FileManager.default.contents(atPath: dir + "/" + f) else { continue }
            out[Hash32.sha256(Array(d)).hex] = (f, String(decoding: d, as: UTF8.self))
        }
        return out
    }

    /// Defaults from a template's header: `-- parameters: :min_age int (45), :max_age int (75)`.
    static func defaultParameters(_ sql: String) -> [String: SQLValue] {
        var out: [String: SQLValue] = [:]
        for line in sql.split(separator: "\n") where line.hasPrefix("-- parameters:") {
            for part in line.dropFirst("-- parameters:".count).split(separator: ",") {
                let words = part.split(separator: " ")
                guard let name = words.first(where: { $0.hasPrefix(":") }), let open = part.firstIndex(of: "("), let close = part.firstIndex(of: ")"), open < close else { continue }
                let v = part[part.index(after: open)..<close].trimmingCharacters(in: .whitespaces)
                out[String(name.dropFirst())] = Int64(v).map { .integer($0) } ?? .text(v)
            }
        }
        return out
    }

}

/// `application/x-www-form-urlencoded` bodies.
enum HTMLForm {
    static func parse(_ s: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in s.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if kv.count == 2 { out[kv[0]] = kv[1] } else if kv.count == 1 { out[kv[0]] = "" }
        }
        return out
    }
}
