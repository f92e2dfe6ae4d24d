import Crypto
import Foundation
import Logging
import PostgresNIO

/// Appends to the audit trail, which is one hash chain per tenant and one for the provider. Each row's hash is an
/// HMAC, under a key the database never holds, of the previous row's hash and the row's own fields; so a row
/// edited or deleted by anyone, a superuser included, breaks the chain that `verify` walks, and nobody without the
/// key can forge the rows after it to hide that.
public struct AuditTrail: Sendable {
    let key: SymmetricKey

    /// - Parameter secret: the chain's key (`ALTO_AUDIT_KEY`); the same secret must be given to every service.
    public init(secret: String) {
        self.key = SymmetricKey(data: SHA256.hash(data: Data(secret.utf8)))
    }

    /// Appends `records` to the chain of `customerID` (nil: the provider's) inside the caller's transaction, so an
    /// action and its record commit together. Writers of one chain take turns until their transactions end.
    public func append(_ records: [AuditRecord], customerID: UUID?, on connection: PostgresConnection, logger: Logger) async throws {
        guard !records.isEmpty else { return }
        let chain = Self.chainName(customerID)
        try await connection.query("SELECT pg_advisory_xact_lock(hashtext('alto.audit.' || \(chain)))", logger: logger)
        var previous: (seq: Int64, hash: [UInt8]) = (0, [])
        for try await (seq, hash) in try await connection.query("""
            SELECT seq, row_hash FROM audit_log WHERE customer_id IS NOT DISTINCT FROM \(customerID) AND seq IS NOT NULL
            ORDER BY seq DESC LIMIT 1
            """, logger: logger).decode((Int64, ByteBuffer).self) {
            previous = (seq, Array(buffer: hash))
        }
        // jsonb keeps its own form of an object; the hash covers that form, which is what verify reads back.
        var normalized: [String] = []
        for try await text in try await connection.query(
            "SELECT details::jsonb::text FROM unnest(\(records.map(\.detailsJSON))::text[]) WITH ORDINALITY AS d(details, n) ORDER BY n",
            logger: logger).decode(String.self) {
            normalized.append(text)
        }
        let micros = Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
        var sequences: [Int64] = [], previousHashes: [ByteBuffer] = [], hashes: [ByteBuffer] = []
        for (record, details) in zip(records, normalized) {
            let seq = previous.seq + 1
            let hash = rowHash(previous: previous.hash, chain: chain, seq: seq, atMicros: micros, record: record, details: details)
            sequences.append(seq)
            previousHashes.append(ByteBuffer(bytes: previous.hash))
            hashes.append(ByteBuffer(bytes: hash))
            previous = (seq, hash)
        }
        try await connection.query("""
            INSERT INTO audit_log (customer_id, at, actor, action, target, result, details, seq, previous_hash, row_hash)
            SELECT \(customerID), timestamptz 'epoch' + \(micros) * interval '1 microsecond', actor, action, target, result,
                   details::jsonb, seq, previous_hash, row_hash
            FROM unnest(\(records.map(\.actor))::text[], \(records.map(\.action))::text[], \(records.map(\.target))::text[],
                        \(records.map(\.result))::text[], \(normalized)::text[], \(sequences)::bigint[],
                        \(previousHashes)::bytea[], \(hashes)::bytea[])
                AS record (actor, action, target, result, details, seq, previous_hash, row_hash)
            """, logger: logger)
    }

    /// Appends `records` in a transaction of their own, bound to their tenant (the provider's chain: across
    /// tenants), for records that go with no other change: a login, a refused request, a finding.
    public func record(_ records: [AuditRecord], customerID: UUID?, client: PostgresClient, logger: Logger) async throws {
        guard let customerID else {
            return try await client.acrossTenants(logger: logger) { try await append(records, customerID: nil, on: $0, logger: logger) }
        }
        try await client.withTenant(customerID, logger: logger) { try await append(records, customerID: customerID, on: $0, logger: logger) }
    }

    /// Walks every chain (or one tenant's) and reports each row that does not follow from the one before it.
    public func verify(customerID: UUID? = nil, allChains: Bool, on connection: PostgresConnection, logger: Logger) async throws -> AuditVerification {
        var verification = AuditVerification()
        var last: [String: (seq: Int64, hash: [UInt8])] = [:]
        let filter = allChains ? "" : "WHERE customer_id IS NOT DISTINCT FROM $1"
        var binds = PostgresBindings()
        if !allChains { binds.append(customerID) }
        let rows = try await connection.query(PostgresQuery(unsafeSQL: """
            SELECT id, customer_id, seq, (extract(epoch FROM at) * 1000000)::bigint, actor, action, target, result,
                   details::text, previous_hash, row_hash
            FROM audit_log \(filter) ORDER BY customer_id NULLS FIRST, seq NULLS FIRST, id
            """, binds: binds), logger: logger)
        typealias Row = (Int64, UUID?, Int64?, Int64, String, String, String, String, String, ByteBuffer?, ByteBuffer?)
        for try await (id, customer, seq, micros, actor, action, target, result, details, previousHash, storedHash) in rows.decode(Row.self) {
            let chain = Self.chainName(customer)
            guard let seq, let storedHash else {
                if last[chain] != nil {
                    verification.problems.append(.init(chain: chain, rowID: id, seq: nil, problem: "a row without a place in the chain after the chain began"))
                } else {
                    verification.unchainedRows += 1
                }
                continue
            }
            let before = last[chain] ?? (0, [])
            let record = AuditRecord(actor: actor, action: action, target: target, result: result)
            let expected = rowHash(previous: before.hash, chain: chain, seq: seq, atMicros: micros, record: record, details: details)
            if seq != before.seq + 1 {
                verification.problems.append(.init(chain: chain, rowID: id, seq: seq,
                                                   problem: "rows \(before.seq + 1)...\(seq - 1) are missing"))
            } else if Array(buffer: previousHash ?? ByteBuffer()) != before.hash {
                verification.problems.append(.init(chain: chain, rowID: id, seq: seq, problem: "it does not follow the row before it"))
            } else if Array(buffer: storedHash) != expected {
                verification.problems.append(.init(chain: chain, rowID: id, seq: seq, problem: "its fields were changed after it was written"))
            }
            verification.checkedRows += 1
            last[chain] = (seq, Array(buffer: storedHash))
        }
        verification.heads = last.mapValues { AuditVerification.Head(seq: $0.seq, hash: Data($0.hash).base64EncodedString()) }
        return verification
    }

    static func chainName(_ customerID: UUID?) -> String {
        customerID.map { $0.uuidString.lowercased() } ?? "provider"
    }

    /// HMAC over the previous hash and each field, every field preceded by its length, so no two rows encode alike.
    func rowHash(previous: [UInt8], chain: String, seq: Int64, atMicros: Int64, record: AuditRecord, details: String) -> [UInt8] {
        var message: [UInt8] = []
        func field(_ bytes: some Collection<UInt8>) {
            withUnsafeBytes(of: UInt64(bytes.count).bigEndian) { message.append(contentsOf: $0) }
            message.append(contentsOf: bytes)
        }
        field(previous)
        field(chain.utf8)
        field(String(seq).utf8)
        field(String(atMicros).utf8)
        for text in [record.actor, record.action, record.target, record.result, details] { field(text.utf8) }
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
    }
}

/// What `AuditTrail.verify` found.
public struct AuditVerification: Sendable, Encodable {
    public struct Problem: Sendable, Encodable, Equatable {
        public var chain: String
        public var rowID: Int64
        public var seq: Int64?
        public var problem: String
        enum CodingKeys: String, CodingKey {
            case chain, seq, problem
            case rowID = "row_id"
        }
    }

    /// The last row of each chain: keep it elsewhere (the SIEM has it too) to notice rows cut from a chain's end.
    public struct Head: Sendable, Encodable, Equatable {
        public var seq: Int64
        public var hash: String
    }

    public var checkedRows = 0
    /// Rows written before the chain existed (schema version 9).
    public var unchainedRows = 0
    public var problems: [Problem] = []
    public var heads: [String: Head] = [:]

    public var isIntact: Bool { problems.isEmpty }

    enum CodingKeys: String, CodingKey {
        case problems, heads
        case checkedRows = "checked_rows", unchainedRows = "unchained_rows"
    }
}
