import Foundation
import Ledger

/// The patient-facing view of consent: each grant with its status now.
public enum ConsentPortal {
    public struct Grant: Sendable {
        public var id: String
        public var grantee: String
        public var scope: String
        public var grantedAt: Int64
        public var expires: Int64
        /// `active`, `expired` or `revoked`.
        public var status: String
        public var grantedBy: String

        public var json: JSON {
            ["consent": .string(id), "grantee": .string(grantee), "scope": .string(scope), "granted_at": .int(grantedAt),
             "expires": .int(expires), "status": .string(status), "granted_by": .string(grantedBy)]
        }
    }

    public static func list(ledger: Ledger, patient: String, at now: Int64) throws -> [Grant] {
        guard let p = try ledger.value(StateKey.patient(patient)) else { throw WorkflowError("unknown patient \(patient): not registered on this ledger") }
        return (p["consents"]?.objectValue ?? [:]).map { id, c in
            let expires = c["expires"]?.intValue ?? 0
            let status = c["status"]?.stringValue == "revoked" ? "revoked" : (expires <= now ? "expired" : "active")
            return Grant(id: id, grantee: c["grantee"]?.stringValue ?? "?", scope: c["scope"]?.stringValue ?? "?", grantedAt: c["granted_at"]?.intValue ?? 0,
                         expires: expires, status: status, grantedBy: c["granted_by"]?.stringValue ?? "?")
        }.sorted { ($0.grantedAt, $0.id) < ($1.grantedAt, $1.id) }
    }
}
