import Foundation

/// Encrypted records: ciphertext, readers, writers and a hash commitment on the ledger. Only a
/// writer may update a record; readers are exactly the organisations its data key is wrapped for.
enum RecordContract {
    static let maxRecordsPerTransaction = 5000

    static func put(_ ctx: ExecutionContext, _ args: Args) throws(TransactionError) -> JSON {
        var keysetReaders: [String: [JSON]] = [:]
        for ks in (args.json["keysets"]?.arrayValue ?? []) {
            let a = Args(ks)
            let id = try a.string("id", maxLength: 96)
            guard try ctx.read(StateKey.keyset(id)) == nil, keysetReaders[id] == nil else { throw .rejected("keyset \(id) already exists") }
            let readers = try a.strings("readers")
            guard !readers.isEmpty, Set(readers).count == readers.count else { throw .malformed("keyset readers must be a non-empty list without repeats") }
            guard let wraps = ks["wraps"]?.objectValue, Set(wraps.keys) == Set(readers) else {
                throw .malformed("keyset \(id) must wrap its data key for exactly its readers")
            }
            for r in readers {
                guard try ctx.activeMember(r) != nil else { throw .rejected("reader \(r) is not an active member") }
                guard let w = wraps[r], w["enc"]?.stringValue != nil, w["ct"]?.stringValue != nil else { throw .malformed("wrap for \(r) incomplete") }
            }
            guard readers.contains(ctx.sender.org) else { throw .rejected("the writing organisation must be a reader of its own keyset") }
            let sorted = readers.sorted().map { JSON.string($0) }
            keysetReaders[id] = sorted
            try ctx.write(StateKey.keyset(id), ["id": .string(id), "readers": .array(sorted), "wraps": .object(wraps),
                                               "author": .string(ctx.sender.org), "created_at": .int(ctx.time)])
        }
        let records = try args.array("records")
        guard !records.isEmpty, records.count <= maxRecordsPerTransaction else {
            throw .malformed("records must hold 1 to \(maxRecordsPerTransaction) entries")
        }
        // The entries of patients with new records here, each read once (the marker below needs it too).
        var patientsWithNewRecords: [String: JSON] = [:]
        var seen = Set<String>()
        for r in records {
            let a = Args(r)
            let key = try a.string("key", maxLength: 200)
            guard seen.insert(key).inserted else { throw .malformed("record \(key) appears twice in one transaction") }
            let patient = try a.string("patient")
            let version = try a.int("version")
            let keyset = try a.string("keyset", maxLength: 96)
            let sealed = try a.string("sealed", maxLength: 1 << 20)
            let commitment = try a.string("commitment")
            let type = try a.optionalString("type", maxLength: 64) ?? "record"
            guard commitment.utf8.count == 64, [UInt8](hex: commitment) != nil else { throw .malformed("commitment must be 64 hex characters") }
            let service = try a.optionalString("service", maxLength: 64)
            if let service, service.utf8.count != 64 || [UInt8](hex: service) == nil { throw .malformed("service commitment must be 64 hex characters") }
            let writers = try a.strings("writers")
            guard !writers.isEmpty else { throw .malformed("record \(key) has no writers") }
            let readers: [JSON]
            if let r = keysetReaders[keyset] {
                readers = r
            } else if let ks = try ctx.read(StateKey.keyset(keyset)), let r = ks["readers"]?.arrayValue {
                readers = r
            } else {
                throw .rejected("record \(key) names unknown keyset \(keyset)")
            }
            let isNew: Bool
            if let existing = try ctx.read(StateKey.record(key)) {
                isNew = false
                guard (existing["writers"]?.arrayValue ?? []).contains(.string(ctx.sender.org)) else {
                    throw .unauthorised("\(ctx.sender.org) is not a writer of record \(key)")
                }
                guard existing["patient"]?.stringValue == patient else { throw .rejected("record \(key) cannot change patient") }
                let current = existing["version"]?.intValue ?? 0
                guard version == current + 1 else { throw .rejected("record \(key) is at version \(current); update must be version \(current + 1)") }
            } else {
                isNew = true
                guard version == 1 else { throw .rejected("new record \(key) must have version 1") }
                guard writers.contains(ctx.sender.org) else { throw .unauthorised("the creating organisation must be a writer of record \(key)") }
                if patientsWithNewRecords[patient] == nil {
                    guard PatientContract.isPseudonym(patient), let entry = try ctx.read(StateKey.patient(patient)) else {
                        throw .rejected("patient of record \(key) is not registered")
                    }
                    patientsWithNewRecords[patient] = entry
                }
            }
            // Written in canonical key order straight to bytes (a thousand per bulk transaction).
            var stored = CanonicalObject(capacity: sealed.utf8.count + 384)
            stored.field("author", .string(ctx.sender.id))
            stored.field("commitment", .string(commitment))
            stored.field("key", .string(key))
            stored.field("keyset", .string(keyset))
            stored.field("patient", .string(patient))
            stored.field("readers", .array(readers))
            stored.field("sealed", .string(sealed))
            if let service { stored.field("service", .string(service)) }
            stored.field("type", .string(type))
            stored.field("version", .int(version))
            stored.field("writers", .array(writers.map { .string($0) }))
            stored.field("written_at", .int(ctx.time))
            if isNew {
                // Absent a moment ago (read above), and written once per transaction (`seen`): version 1.
                ctx.write(StateKey.record(key), stored, version: 1)
            } else {
                try ctx.write(StateKey.record(key), stored)
            }
        }
        for (patient, entry) in patientsWithNewRecords.sorted(by: { $0.key < $1.key }) {
            try PatientContract.noteHoldsRecords(ctx, patient: patient, entry: entry, org: ctx.sender.org)
        }
        return ["records": .int(Int64(records.count))]
    }
}
