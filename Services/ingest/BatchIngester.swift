import AltoAMQP
import AltoModels
import AltoService
import AltoStore
import Foundation
import Logging
import Metrics
import PostgresNIO

/// Loads one staged batch into the inventory, all in one transaction: rows COPYed into the day's staging partition,
/// rejects recorded with their reason, one set-based upsert into `file_inventory`, host totals, and a planner
/// trigger in the outbox. A batch already ingested is acknowledged without change, so redelivery is harmless.
struct BatchIngester: Sendable {
    let postgres: PostgresClient
    let logger: Logger
    private let acceptedRows = Counter(label: "alto_ingest_rows_total", dimensions: [("result", "accepted")])
    private let rejectedRows = Counter(label: "alto_ingest_rows_total", dimensions: [("result", "rejected")])

    init(postgres: PostgresClient, logger: Logger) {
        self.postgres = postgres
        self.logger = logger
    }

    func handle(_ delivery: AMQPDelivery) async -> AMQPSettlement {
        await HostMessage.handle(delivery, as: IngestJob.self, logger: logger) { envelope, hostID, logger in
            var logger = logger
            logger[metadataKey: "job"] = "\(envelope.payload.batchID)"
            return try await ingest(envelope, hostID: hostID, logger: logger)
        }
    }

    private func ingest(_ envelope: Envelope<IngestJob>, hostID: UUID, logger: Logger) async throws -> AMQPSettlement {
        let job = envelope.payload
        let customerID = envelope.customerID
        return try await postgres.withTransaction(logger: logger) { connection -> AMQPSettlement in
            let uploads = try await connection.query("""
                SELECT body, ingested_at IS NOT NULL FROM scan_staging.uploads
                WHERE batch_id = \(job.batchID) AND customer_id = \(customerID) AND host_id = \(hostID) FOR UPDATE
                """, logger: logger)
            var staged: (ByteBuffer, Bool)?
            for try await row in uploads.decode((ByteBuffer, Bool).self) { staged = row }
            guard let (body, alreadyIngested) = staged else {
                return .deadLetter(reason: "batch \(job.batchID) is not staged for this customer and host")
            }
            if alreadyIngested {
                logger.info("batch already ingested; nothing to do")
                return .ack
            }
            let (records, errors, formatError) = parse(body, compression: job.compression)
            let scanDate = RFC3339.format(job.scanStartedAt).prefix(10)
            try await connection.query("SELECT scan_staging.ensure_partition(\(customerID), \(String(scanDate))::date)", logger: logger)
            try await copy(records, customerID: customerID, hostID: hostID, job: job, scanDate: String(scanDate),
                           connection: connection, logger: logger)
            for error in errors {
                try await connection.query("""
                    INSERT INTO scan_staging.rejects (batch_id, customer_id, line, reason)
                    VALUES (\(job.batchID), \(customerID), \(error.line), \(error.message))
                    """, logger: logger)
            }
            if let formatError {
                try await connection.query("""
                    INSERT INTO scan_staging.rejects (batch_id, customer_id, line, reason)
                    VALUES (\(job.batchID), \(customerID), 0, \(formatError))
                    """, logger: logger)
            }
            try await upsertInventory(customerID: customerID, hostID: hostID, job: job, scanDate: String(scanDate),
                                      connection: connection, logger: logger)
            try await connection.query("""
                UPDATE scan_staging.uploads SET ingested_at = now(), accepted_rows = \(records.count),
                    rejected_rows = \(errors.count + (formatError == nil ? 0 : 1))
                WHERE batch_id = \(job.batchID)
                """, logger: logger)
            try await retireUnseenFiles(customerID: customerID, hostID: hostID, job: job, connection: connection, logger: logger)
            try await connection.query("""
                UPDATE hosts SET last_scan_at = \(job.scanStartedAt),
                    (file_count, total_bytes) = (SELECT count(*), coalesce(sum(file_size), 0)::bigint FROM file_inventory
                                                 WHERE host_id = \(hostID) AND deleted_at IS NULL)
                WHERE id = \(hostID)
                """, logger: logger)
            let trigger = envelope.reply(PlannerTrigger(reason: .ingest, batchID: job.batchID))
            try await Outbox.enqueue(trigger, queue: AMQPTopology.plannerJobs, on: connection, logger: logger)
            acceptedRows.increment(by: records.count)
            rejectedRows.increment(by: errors.count)
            logger.info("batch ingested", metadata: ["accepted": "\(records.count)", "rejected": "\(errors.count)"])
            return .ack
        }
    }

    private func parse(_ body: ByteBuffer, compression: IngestJob.Compression) -> ([ScanRecord], [ScanCSV.RowError], String?) {
        guard compression == .none else {
            return ([], [], "compression \(compression.rawValue) is not supported by this ingest worker")
        }
        do {
            let (records, errors) = try ScanCSV.parse(Array(body.readableBytesView))
            return (records, errors, nil)
        } catch {
            return ([], [], error.description)
        }
    }

    private func copy(_ records: [ScanRecord], customerID: UUID, hostID: UUID, job: IngestJob, scanDate: String,
                      connection: PostgresConnection, logger: Logger) async throws {
        guard !records.isEmpty else { return }
        try await connection.query("SET LOCAL search_path TO scan_staging, public", logger: logger)
        let columns = ["customer_id", "scan_date", "batch_id", "host_id", "line", "file_path", "file_size", "last_modified",
                       "last_accessed", "file_extension", "permissions", "owner", "hash"]
        let customer = customerID.uuidString, host = hostID.uuidString, batch = job.batchID.uuidString
        try await connection.copyFrom(table: "raw_scans", columns: columns, logger: logger) { writer in
            var rows = CopyTextWriter()
            for (line, record) in records.enumerated() {
                rows.field(customer)
                rows.field(scanDate)
                rows.field(batch)
                rows.field(host)
                rows.field(Int64(line + 2))
                rows.field(record.path)
                rows.field(record.size)
                rows.field(RFC3339.format(record.lastModified))
                rows.field(record.lastAccessed.map(RFC3339.format))
                rows.field(record.fileExtension)
                rows.field(record.permissions)
                rows.field(record.owner)
                rows.field(record.hash)
                rows.endRow()
                if rows.buffer.readableBytes >= 1 << 20 { try await writer.write(rows.take()) }
            }
            if rows.buffer.readableBytes > 0 { try await writer.write(rows.take()) }
        }
        try await connection.query("SET LOCAL search_path TO public", logger: logger)
    }

    /// One set-based upsert; the last row of a path in the batch wins, and a hash survives only while size and
    /// modification time are unchanged.
    private func upsertInventory(customerID: UUID, hostID: UUID, job: IngestJob, scanDate: String,
                                 connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("""
            INSERT INTO file_inventory AS inventory (customer_id, host_id, file_path, file_size, last_modified, last_accessed,
                file_extension, permissions, owner, hash, last_scan_id, last_seen_at)
            SELECT DISTINCT ON (file_path) customer_id, host_id, file_path, file_size, last_modified, last_accessed,
                file_extension, permissions, owner, hash, \(job.scanID), now()
            FROM scan_staging.raw_scans
            WHERE customer_id = \(customerID) AND scan_date = \(scanDate)::date AND batch_id = \(job.batchID)
            ORDER BY file_path, line DESC
            ON CONFLICT (host_id, file_path) DO UPDATE SET
                file_size = EXCLUDED.file_size,
                last_modified = EXCLUDED.last_modified,
                last_accessed = EXCLUDED.last_accessed,
                file_extension = EXCLUDED.file_extension,
                permissions = EXCLUDED.permissions,
                owner = EXCLUDED.owner,
                hash = CASE
                    WHEN EXCLUDED.hash IS NOT NULL THEN EXCLUDED.hash
                    WHEN inventory.file_size = EXCLUDED.file_size AND inventory.last_modified = EXCLUDED.last_modified
                        THEN inventory.hash
                END,
                last_scan_id = EXCLUDED.last_scan_id,
                last_seen_at = EXCLUDED.last_seen_at,
                deleted_at = NULL,
                updated_at = now()
            """, logger: logger)
    }

    /// When every batch of a full scan is in, files the scan no longer saw are marked deleted.
    private func retireUnseenFiles(customerID: UUID, hostID: UUID, job: IngestJob, connection: PostgresConnection,
                                   logger: Logger) async throws {
        guard job.isFullScan else { return }
        let rows = try await connection.query("""
            SELECT count(*) FILTER (WHERE ingested_at IS NOT NULL), max(batch_index) FILTER (WHERE is_final_batch)
            FROM scan_staging.uploads WHERE scan_id = \(job.scanID) AND host_id = \(hostID)
            """, logger: logger)
        for try await (ingested, finalIndex) in rows.decode((Int64, Int?).self) {
            guard let finalIndex, ingested == finalIndex + 1 else { return }
            try await connection.query("""
                UPDATE file_inventory SET deleted_at = now(), updated_at = now()
                WHERE host_id = \(hostID) AND customer_id = \(customerID) AND deleted_at IS NULL
                  AND last_scan_id IS DISTINCT FROM \(job.scanID) AND NOT is_stubbed
                """, logger: logger)
        }
    }
}
