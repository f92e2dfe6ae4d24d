import AltoAMQP
import AltoCompression
import AltoModels
import AltoRuntime
import AltoStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import PostgresNIO

/// `POST /api/v1/scan-results`: an agent's scan batch. Everything is checked before anything is kept: the body is
/// received onto local disk under a few uploads per host and two clocks (`UploadReceiver`), and only then staged
/// together with its `ingest.jobs` message in one short transaction, so it is either both or neither and a slow
/// client never holds a database connection.
struct ScanUploadController: Sendable {
    let postgres: PostgresClient
    let limits: APILimits
    let gate: UploadGate

    init(postgres: PostgresClient, limits: APILimits) {
        self.postgres = postgres
        self.limits = limits
        gate = UploadGate(maximum: limits.uploadsAtOnce, maximumPerHost: limits.uploadsPerHost)
    }

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
        /// Tells an agent it may send listings of changes: one talking to an older suite, whose ingest would read a
        /// listing of changes as a complete one and retire every file it leaves out, lists every file.
        var listingsOfChanges = true

        enum CodingKeys: String, CodingKey {
            case batchID = "batch_id"
            case scanID = "scan_id"
            case status
            case listingsOfChanges = "listings_of_changes"
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
        guard let listing = IngestJob.Listing(rawValue: request.headers[HTTPField.Name("X-Alto-Listing")!] ?? "complete") else {
            throw APIError.badRequest("invalid_header", "X-Alto-Listing must be complete or changes")
        }
        guard listing == .complete || isFullScan else {
            throw APIError.badRequest("invalid_header", "X-Alto-Listing: changes is a full scan's; a partial scan lists complete folders")
        }
        var scanFiles: Int?
        if let text = request.headers[HTTPField.Name("X-Alto-Scan-Files")!] {
            guard let count = Int(text), count >= 0 else {
                throw APIError.badRequest("invalid_header", "X-Alto-Scan-Files must be a non-negative integer")
            }
            scanFiles = count
        }
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
            throw limits.tooLarge
        }
        // A batch sent again, as an agent that lost the answer does, is answered without reading it again.
        if try await isKnown(batchID, customerID: customerID, hostID: hostID, logger: logger) {
            logger.info("scan batch staged before", metadata: ["batch": "\(batchID)", "scan": "\(scanID)"])
            Counter(label: "alto_api_uploads_total", dimensions: [("result", "duplicate")]).increment()
            return try JSONResponse.make(status: .accepted, Accepted(batchID: batchID, scanID: scanID, status: "already_accepted"))
        }
        let upload = try await gate.admit(host: hostID) {
            try await UploadReceiver(limits: limits).receive(request.body, compression: compression)
        }
        guard upload.kind == .files || listing == .changes else {
            throw APIError.badRequest("invalid_csv", "a batch of deletions belongs to a full scan sent with X-Alto-Listing: changes")
        }
        let staged = try await postgres.withTenant(customerID, logger: logger) { connection -> Bool in
            let claimed = try await connection.query("""
                INSERT INTO scan_staging.uploads (batch_id, customer_id, host_id, scan_id, batch_index, is_final_batch,
                    is_full_scan, compression, byte_count, csv_bytes, scan_started_at, listing, kind, scan_files)
                VALUES (\(batchID), \(customerID), \(hostID), \(scanID), \(batchIndex), \(isFinal), \(isFullScan),
                    \(compression.rawValue), \(upload.compressedBytes), \(upload.csvBytes), \(startedAt), \(listing.rawValue),
                    \(upload.kind.rawValue), \(scanFiles))
                ON CONFLICT (batch_id) DO NOTHING RETURNING 1
                """, logger: logger)
            var isNew = false
            for try await _ in claimed { isNew = true }
            guard isNew else { return false }
            try await requireOneListing(listing, scanID: scanID, hostID: hostID, customerID: customerID, on: connection, logger: logger)
            var sequence = 0
            try await upload.forEachChunk(of: Self.chunkBytes) { chunk in
                try await connection.query("""
                    INSERT INTO scan_staging.upload_chunks (batch_id, seq, data) VALUES (\(batchID), \(sequence), \(chunk))
                    """, logger: logger)
                sequence += 1
            }
            let job = IngestJob(batchID: batchID, scanID: scanID, batchIndex: batchIndex, isFinalBatch: isFinal,
                                isFullScan: isFullScan, compression: compression, byteCount: upload.compressedBytes,
                                scanStartedAt: startedAt, listing: listing, kind: upload.kind)
            let envelope = Envelope(customerID: customerID, hostID: hostID, payload: job)
            try await Outbox.enqueue(envelope, queue: AMQPTopology.ingestJobs, on: connection, logger: logger)
            return true
        }
        if !staged {
            guard try await isKnown(batchID, customerID: customerID, hostID: hostID, logger: logger) else {
                throw Self.conflict(batchID)
            }
        }
        Counter(label: "alto_api_uploads_total", dimensions: [("result", staged ? "accepted" : "duplicate")]).increment()
        if staged { Counter(label: "alto_api_upload_bytes_total").increment(by: upload.compressedBytes) }
        logger.info("scan batch staged", metadata: ["batch": "\(batchID)", "scan": "\(scanID)", "bytes": "\(upload.compressedBytes)",
                                                    "csv_bytes": "\(upload.csvBytes)", "duplicate": "\(!staged)"])
        return try JSONResponse.make(status: .accepted, Accepted(batchID: batchID, scanID: scanID, status: staged ? "accepted" : "already_accepted"))
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

    private static let chunkBytes = 1 << 20

    /// A scan's batches all list the same way, and a listing of changes needs an inventory that holds the host's
    /// complete listing (after its first full scan is in, with no other still loading): otherwise the agent is told
    /// to list every file, which it does next time. The batch's row is in the transaction, which the refusal undoes.
    private func requireOneListing(_ listing: IngestJob.Listing, scanID: UUID, hostID: UUID, customerID: UUID,
                                   on connection: PostgresConnection, logger: Logger) async throws {
        let others = try await connection.query("""
            SELECT count(*) FILTER (WHERE listing <> \(listing.rawValue)) FROM scan_staging.uploads
            WHERE scan_id = \(scanID) AND host_id = \(hostID) AND customer_id = \(customerID)
            """, logger: logger).collect().first?.decode(Int64.self) ?? 0
        guard others == 0 else {
            throw APIError.badRequest("invalid_header", "every batch of scan \(scanID) must have the same X-Alto-Listing")
        }
        guard listing == .changes else { return }
        let takes = try await connection.query("SELECT inventory.takes_changes(\(customerID), \(hostID))", logger: logger)
            .collect().first?.decode(Bool.self) ?? false
        guard takes else {
            throw APIError.badRequest("complete_listing_required",
                                      "the inventory of this host holds no complete listing to apply changes to; list every file")
        }
    }

    private func booleanHeader(_ request: Request, _ name: String) throws -> Bool {
        switch request.headers[HTTPField.Name(name)!]?.lowercased() {
        case nil, "true": return true
        case "false": return false
        default: throw APIError.badRequest("invalid_header", "\(name) must be true or false")
        }
    }

    /// Whether this host sent the batch before; a batch id another host used is a conflict. Another tenant's
    /// batch is invisible here, which makes it a conflict too (the insert that follows cannot take its id).
    private func isKnown(_ batchID: UUID, customerID: UUID, hostID: UUID, logger: Logger) async throws -> Bool {
        let owner = try await postgres.withTenant(customerID, logger: logger) { connection -> UUID? in
            let rows = try await connection.query(
                "SELECT host_id FROM scan_staging.uploads WHERE batch_id = \(batchID)", logger: logger)
            for try await host in rows.decode(UUID.self) { return host }
            return nil
        }
        guard let owner else { return false }
        guard owner == hostID else { throw Self.conflict(batchID) }
        return true
    }

    private static func conflict(_ batchID: UUID) -> APIError {
        APIError(.conflict, "batch_conflict", "batch id \(batchID) belongs to another host")
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
