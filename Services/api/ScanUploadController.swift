import AltoAMQP
import AltoModels
import AltoService
import AltoStore
import HTTPTypes
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// `POST /api/v1/scan-results`: an agent's scan batch. Everything is checked before anything is kept, and the
/// batch is staged together with its `ingest.jobs` message in one transaction, so it is either both or neither.
struct ScanUploadController: Sendable {
    let postgres: PostgresClient
    let limits: APILimits
    let logger: Logger

    func add(to router: Router<BasicRequestContext>) {
        router.post("/api/v1/scan-results") { request, context in
            try await upload(request, context: context)
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

    func upload(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let customerID = try uuidHeader(request, "X-Alto-Customer-Id")
        let hostID = try uuidHeader(request, "X-Alto-Host-Id")
        guard let token = request.bearerToken else { throw APIError.unauthorized }
        var logger = self.logger
        logger[metadataKey: "tenant"] = "\(customerID)"
        logger[metadataKey: "host"] = "\(hostID)"

        let stored = try await postgres.query(
            "SELECT agent_token_hash FROM hosts WHERE id = \(hostID) AND customer_id = \(customerID)", logger: logger)
        var digest: [UInt8]?? = .none
        for try await (hash) in stored.decode(ByteBuffer?.self) {
            digest = .some(hash.map { Array(buffer: $0) })
        }
        guard let hostDigest = digest else {
            throw APIError.badRequest("unknown_host", "host \(hostID) is not enrolled for customer \(customerID)")
        }
        guard let hostDigest, AgentToken.matches(token, digest: hostDigest) else { throw APIError.unauthorized }

        let compression = try self.compression(of: request)
        let scanID = try optionalUUIDHeader(request, "X-Alto-Scan-Id") ?? UUID()
        let batchID = try optionalUUIDHeader(request, "X-Alto-Batch-Id") ?? UUID()
        let batchIndex = Int(request.headers[HTTPField.Name("X-Alto-Batch-Index")!] ?? "0") ?? -1
        guard batchIndex >= 0 else { throw APIError.badRequest("invalid_header", "X-Alto-Batch-Index must be a non-negative integer") }
        let isFinal = request.headers[HTTPField.Name("X-Alto-Final-Batch")!].map { $0 == "true" } ?? true
        let isFullScan = request.headers[HTTPField.Name("X-Alto-Full-Scan")!].map { $0 == "true" } ?? true
        let startedAt = request.headers[HTTPField.Name("X-Alto-Scan-Started-At")!].flatMap(RFC3339.parse) ?? Date()

        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limits.maximumUploadBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "too_large", "a batch may be at most \(limits.maximumUploadBytes) bytes; cut smaller batches")
        }
        try checkHeaderLine(body)

        let job = IngestJob(batchID: batchID, scanID: scanID, batchIndex: batchIndex, isFinalBatch: isFinal,
                            isFullScan: isFullScan, compression: compression, byteCount: body.readableBytes,
                            scanStartedAt: startedAt)
        let envelope = Envelope(customerID: customerID, hostID: hostID, payload: job)
        let staged = try await postgres.withTransaction(logger: logger) { connection -> Bool in
            let inserted = try await connection.query("""
                INSERT INTO scan_staging.uploads (batch_id, customer_id, host_id, scan_id, batch_index, is_final_batch,
                    is_full_scan, compression, byte_count, body, scan_started_at)
                VALUES (\(batchID), \(customerID), \(hostID), \(scanID), \(batchIndex), \(isFinal), \(isFullScan),
                    \(compression.rawValue), \(body.readableBytes), \(body), \(startedAt))
                ON CONFLICT (batch_id) DO NOTHING RETURNING 1
                """, logger: logger)
            for try await _ in inserted {
                try await Outbox.enqueue(envelope, queue: AMQPTopology.ingestJobs, on: connection, logger: logger)
                return true
            }
            return false
        }
        if !staged {
            try await checkSameBatch(batchID, customerID: customerID, hostID: hostID, logger: logger)
        }
        logger.info("scan batch staged", metadata: ["batch": "\(batchID)", "scan": "\(scanID)", "bytes": "\(body.readableBytes)",
                                                    "duplicate": "\(!staged)"])
        return try JSONResponse.make(status: .accepted, Accepted(batchID: batchID, scanID: scanID, status: staged ? "accepted" : "already_accepted"))
    }

    /// A batch id seen before is fine from the same host (a retry); from another host it is a conflict.
    private func checkSameBatch(_ batchID: UUID, customerID: UUID, hostID: UUID, logger: Logger) async throws {
        let rows = try await postgres.query(
            "SELECT customer_id, host_id FROM scan_staging.uploads WHERE batch_id = \(batchID)", logger: logger)
        for try await (customer, host) in rows.decode((UUID, UUID).self) where customer != customerID || host != hostID {
            throw APIError(.conflict, "batch_conflict", "batch id \(batchID) belongs to another host")
        }
    }

    /// Only uncompressed batches until the ingest worker decompresses; refusing here keeps a batch from being
    /// accepted and then rejected whole.
    private func compression(of request: Request) throws -> IngestJob.Compression {
        switch request.headers[.contentEncoding]?.lowercased() {
        case nil, "identity": return .none
        case let other?:
            throw APIError(.unsupportedMediaType, "unsupported_encoding", "Content-Encoding \(other) is not accepted yet; send the CSV uncompressed")
        }
    }

    private func checkHeaderLine(_ body: ByteBuffer) throws {
        let expected = ScanCSV.header.utf8
        let view = body.readableBytesView
        let headerLine = view.prefix(while: { $0 != 0x0A })
        let trimmed = headerLine.last == 0x0D ? headerLine.dropLast() : headerLine[...]
        guard trimmed.elementsEqual(expected.dropLast()) else {
            throw APIError.badRequest("invalid_csv", "the first line must be the header \(ScanCSV.columns.joined(separator: ","))")
        }
    }

    private func uuidHeader(_ request: Request, _ name: String) throws -> UUID {
        guard let id = try optionalUUIDHeader(request, name) else {
            throw APIError.badRequest("missing_header", "\(name) is required")
        }
        return id
    }

    private func optionalUUIDHeader(_ request: Request, _ name: String) throws -> UUID? {
        guard let value = request.headers[HTTPField.Name(name)!] else { return nil }
        guard let id = UUID(uuidString: value) else {
            throw APIError.badRequest("invalid_header", "\(name) must be a UUID")
        }
        return id
    }
}
