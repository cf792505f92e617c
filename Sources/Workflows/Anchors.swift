import Crypto
import Foundation
import Ledger

/// Research data integrity: a file's SHA-256 anchored on the ledger, and the check that a file is
/// unchanged since. The file never leaves the machine it is on.
public enum Anchors {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The SHA-256 and size of a file, read in 1 MiB chunks (datasets can be large).
    public static func digest(file path: String) throws -> (sha256: Hash32, bytes: Int64) {
        guard let h = FileHandle(forReadingAtPath: path) else { throw Failure(description: "cannot read \(path)") }
        defer { try? h.close() }
        var sha = SHA256()
        var n: Int64 = 0
        while true {
            let chunk = h.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            sha.update(data: chunk)
            n += Int64(chunk.count)
        }
        return (Hash32(digest: sha.finalize()), n)
    }

    public enum Verdict {
        /// The file is exactly what was anchored: the entry and the inclusion proof of its transaction.
        case unchanged(entry: JSON, proof: InclusionProof)
        /// The label was anchored, but with other bytes: the anchored entry.
        case changed(anchored: JSON)
        case notAnchored
    }

    /// Looks the file up by its digest; with `label` (and the anchoring organisation), a different
    /// digest under that label is reported as a change rather than as unknown.
    public static func verify(ledger: Ledger, file: String, label: String? = nil, org: String? = nil) throws -> Verdict {
        let (digest, _) = try digest(file: file)
        if let entry = try ledger.value(StateKey.anchor(digest.hex)),
           label == nil || entry["label"]?.stringValue == label,
           let tx = entry["tx"]?.stringValue.flatMap(Hash32.init(hex:)) {
            return .unchanged(entry: entry, proof: try ledger.inclusionProof(for: tx))
        }
        if let label, let org, let latest = try ledger.value(StateKey.anchorLabel(org: org, label: label)),
           let sha = latest["sha256"]?.stringValue, let anchored = try ledger.value(StateKey.anchor(sha)) {
            return .changed(anchored: anchored)
        }
        return .notAnchored
    }
}
