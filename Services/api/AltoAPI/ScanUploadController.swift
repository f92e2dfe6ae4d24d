import AltoAMQP
import AltoCompression
import AltoModels
import AltoRuntime
import AltoStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO

/// `POST /api/v1/scan-results`: an agent's scan batch. Everything is checked before anything is kept, and the
/// batch is staged together with its `ingest.jobs` message in one transaction, so it is either both or neither.
struct ScanUploadController: Sendable {
    let postgres: PostgresClient
    let limits: APILimits

    func add(to router: Router<AltoRequestContext>) {
        router.post("/api/v1/scan-results") { request, context in
            try await upload(request, context: context)
        }
        router.get("/api/v1/scan-results/:batchID") { request, context in
            try await status(request, context: context)
        }
    }

    struct Accepted: Encodable {
        var batchID: UUID
        var scanID: UUID
        var status: String

        enum CodingKeys: String, CodingKey {
            case batchID = "batch_id"
            case scanID = "scan_id"
            case status
        }
    }

    func upload(_ request: Request, context: AltoRequestContext) async throws -> Response {
        let hostID = try context.agentHost(named: try request.optionalUUIDHeader("X-Alto-Host-Id"))
        let customerID = try context.tenant()
        var logger = context.logger
        logger[metadataKey: "host"] = "\(hostID)"

        let compression = try self.compression(of: request)
        let scanID = try request.optionalUUIDHeader("X-Alto-Scan-Id") ?? UUID()
        let batchID = try request.optionalUUIDHeader("X-Alto-Batch-Id") ?? UUID()
        let batchIndex = Int(request.headers[HTTPField.Name("X-Alto-Batch-Index")!] ?? "0") ?? -1
        guard batchIndex >= 0 else { throw APIError.badRequest("invalid_header", "X-Alto-Batch-Index must be a non-negative integer") }
        let isFinal = try booleanHeader(request, "X-Alto-Final-Batch")
        let isFullScan = try booleanHeader(request, "X-Alto-Full-Scan")
        let startedAt: Date
        if let text = request.headers[HTTPField.Name("X-Alto-Scan-Started-At")!] {
            guard let parsed = RFC3339.parse(text) else {
                throw APIError.badRequest("invalid_header", "X-Alto-Scan-Started-At must be an RFC 3339 time")
            }
            startedAt = parsed
        } else {
            startedAt = Date()
        }
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limits.maximumUploadBytes {
            throw tooLarge
        }

        let staged = try await postgres.withTenant(customerID, logger: logger) { connection -> (Int, Int)? in
            let claimed = try await connection.query("""
                INSERT INTO scan_staging.uploads (batch_id, customer_id, host_id, scan_id, batch_index, is_final_batch,
                    is_full_scan, compression, byte_count, scan_started_at)
                VALUES (\(batchID), \(customerID), \(hostID), \(scanID), \(batchIndex), \(isFinal), \(isFullScan),
                    \(compression.rawValue), 0, \(startedAt))
                ON CONFLICT (batch_id) DO NOTHING RETURNING 1
                """, logger: logger)
            var isNew = false
            for try await _ in claimed { isNew = true }
            guard isNew else { return nil }
            let (compressedBytes, csvBytes) = try await stage(request.body, batchID: batchID, compression: compression,
                                                              connection: connection, logger: logger)
            try await connection.query("""
                UPDATE scan_staging.uploads SET byte_count = \(compressedBytes), csv_bytes = \(csvBytes) WHERE batch_id = \(batchID)
                """, logger: logger)
            let job = IngestJob(batchID: batchID, scanID: scanID, batchIndex: batchIndex, isFinalBatch: isFinal,
                                isFullScan: isFullScan, compression: compression, byteCount: compressedBytes,
                                scanStartedAt: startedAt)
            let envelope = Envelope(customerID: customerID, hostID: hostID, payload: job)
            try await Outbox.enqueue(envelope, queue: AMQPTopology.ingestJobs, on: connection, logger: logger)
            return (compressedBytes, csvBytes)
        }
        if staged == nil {
            try await checkSameBatch(batchID, customerID: customerID, hostID: hostID, logger: logger)
        }
        logger.info("scan batch staged", metadata: ["batch": "\(batchID)", "scan": "\(scanID)", "bytes": "\(staged?.0 ?? 0)",
                                                    "csv_bytes": "\(staged?.1 ?? 0)", "duplicate": "\(staged == nil)"])
        return try JSONResponse.make(status: .accepted, Accepted(batchID: batchID, scanID: scanID, status: staged != nil ? "accepted" : "already_accepted"))
    }

    /// What became of a batch, for the agent that sent it: staged or ingested, its accepted and rejected row
    /// counts, and the first rejected rows with their reasons.
    struct BatchStatus: Encodable {
        struct Reject: Encodable {
            var line: Int
            var reason: String
            var filePath: String?
            enum CodingKeys: String, CodingKey {
                case line, reason
                case filePath = "file_path"
            }
        }

        var batchID: UUID
        var scanID: UUID
        var status: String
        var acceptedRows: Int?
        var rejectedRows: Int?
        var rejects: [Reject]

        enum CodingKeys: String, CodingKey {
            case batchID = "batch_id"
            case scanID = "scan_id"
            case status
            case acceptedRows = "accepted_rows"
            case rejectedRows = "rejected_rows"
            case rejects
        }
    }

    func status(_ request: Request, context: AltoRequestContext) async throws -> Response {
        let hostID = try context.agentHost(named: try request.optionalUUIDHeader("X-Alto-Host-Id"))
        let customerID = try context.tenant()
        let logger = context.logger
        let batchID = try context.parameters.uuid("batchID")
        let batch = try await postgres.withTenant(customerID, logger: logger) { connection -> BatchStatus in
            let uploads = try await connection.query("""
                SELECT scan_id, ingested_at IS NOT NULL, accepted_rows, rejected_rows FROM scan_staging.uploads
                WHERE batch_id = \(batchID) AND customer_id = \(customerID) AND host_id = \(hostID)
                """, logger: logger)
            var found: BatchStatus?
            for try await (scanID, ingested, accepted, rejected) in uploads.decode((UUID, Bool, Int?, Int?).self) {
                found = BatchStatus(batchID: batchID, scanID: scanID, status: ingested ? "ingested" : "staged",
                                    acceptedRows: accepted, rejectedRows: rejected, rejects: [])
            }
            guard var batch = found else {
                throw APIError(.notFound, "not_found", "no batch \(batchID) from this host")
            }
            let rejects = try await connection.query("""
                SELECT line, reason, file_path FROM scan_staging.rejects
                WHERE batch_id = \(batchID) AND customer_id = \(customerID) ORDER BY line LIMIT 100
                """, logger: logger)
            for try await (line, reason, path) in rejects.decode((Int, String, String?).self) {
                batch.rejects.append(.init(line: line, reason: reason, filePath: path))
            }
            return batch
        }
        return try JSONResponse.make(status: .ok, batch)
    }

    /// Streams the body into `upload_chunks` a megabyte at a time while the inspector checks it; any failure
    /// throws, and the caller's transaction takes the chunks back with it.
    private func stage(_ body: RequestBody, batchID: UUID, compression: IngestJob.Compression,
                       connection: PostgresConnection, logger: Logger) async throws -> (Int, Int) {
        var inspector = try UploadInspector(compression: compression, maximumCSVBytes: limits.maximumCSVBytes)
        var pending = ByteBuffer()
        var sequence = 0
        var total = 0
        func flush() async throws {
            guard pending.readableBytes > 0 else { return }
            try await connection.query("""
                INSERT INTO scan_staging.upload_chunks (batch_id, seq, data) VALUES (\(batchID), \(sequence), \(pending))
                """, logger: logger)
            sequence += 1
            pending.clear()
        }
        for try await piece in body {
            total += piece.readableBytes
            guard total <= limits.maximumUploadBytes else { throw tooLarge }
            try inspector.inspect(piece)
            pending.writeImmutableBuffer(piece)
            if pending.readableBytes >= Self.chunkBytes { try await flush() }
        }
        try inspector.finish()
        try await flush()
        return (total, inspector.csvBytes)
    }

    private static let chunkBytes = 1 << 20

    private var tooLarge: APIError {
        APIError(.contentTooLarge, "too_large", "a batch may be at most \(limits.maximumUploadBytes) bytes; cut smaller batches")
    }

    private func booleanHeader(_ request: Request, _ name: String) throws -> Bool {
        switch request.headers[HTTPField.Name(name)!]?.lowercased() {
        case nil, "true": return true
        case "false": return false
        default: throw APIError.badRequest("invalid_header", "\(name) must be true or false")
        }
    }

    /// A batch id seen before is fine from the same host (a retry); from another host it is a conflict. Another
    /// tenant's batch is invisible here, which makes it a conflict too.
    private func checkSameBatch(_ batchID: UUID, customerID: UUID, hostID: UUID, logger: Logger) async throws {
        let ownBatch = try await postgres.withTenant(customerID, logger: logger) { connection in
            let rows = try await connection.query(
                "SELECT host_id FROM scan_staging.uploads WHERE batch_id = \(batchID)", logger: logger)
            for try await host in rows.decode(UUID.self) where host == hostID { return true }
            return false
        }
        guard ownBatch else { throw APIError(.conflict, "batch_conflict", "batch id \(batchID) belongs to another host") }
    }

    /// The batch's encoding, from `Content-Encoding`; its type must be CSV.
    private func compression(of request: Request) throws -> IngestJob.Compression {
        if let type = request.headers[.contentType]?.lowercased(),
           !["text/csv", "application/octet-stream", "application/zstd", "application/gzip"].contains(where: type.hasPrefix) {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "Content-Type must be text/csv, not \(type)")
        }
        switch request.headers[.contentEncoding]?.lowercased() {
        case nil, "identity": return .none
        case "zstd": return .zstd
        case "gzip", "x-gzip": return .gzip
        case let other?:
            throw APIError(.unsupportedMediaType, "unsupported_encoding", "Content-Encoding \(other) is not accepted; send zstd, gzip or identity")
        }
    }
}
