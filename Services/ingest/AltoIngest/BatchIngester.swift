import AltoAMQP
import AltoCentral
import AltoModels
import AltoRuntime
import AltoStore
import Foundation
import Logging
import Metrics
import PostgresNIO

/// Loads one staged batch into the inventory in one transaction: its rows streamed into the day's staging
/// partition, rejects recorded with their reason, one set-based upsert into `file_inventory`, unseen files retired
/// when a full scan is complete, host totals, and a planner trigger in the outbox (for a full scan, once it is
/// complete). A host's first full scan skips staging and the upsert: its rows are copied into a bare load table,
/// which becomes the host's inventory partition when the scan is complete. A batch of deletions, of a listing of
/// changes, marks deleted the files it names by key. A batch already ingested is acknowledged without change, so
/// a redelivered job is harmless, and batches lock only their own upload row, so several workers ingest different
/// batches at once.
struct BatchIngester: Sendable {
    let postgres: PostgresClient
    let logger: Logger
    private let acceptedRows = Counter(label: "alto_ingest_rows_total", dimensions: [("result", "accepted")])
    private let rejectedRows = Counter(label: "alto_ingest_rows_total", dimensions: [("result", "rejected")])
    private let batchSeconds = Timer(label: "alto_ingest_batch_duration_seconds")

    init(postgres: PostgresClient, logger: Logger) {
        self.postgres = postgres
        self.logger = logger
    }

    func handle(_ delivery: AMQPDelivery) async -> AMQPSettlement {
        await HostMessage.handle(delivery, as: IngestJob.self, logger: logger,
                                 failure: MessageFailure.settlement) { envelope, hostID, logger in
            var logger = logger
            logger[metadataKey: "job"] = "\(envelope.payload.batchID)"
            let started = DispatchTime.now()
            defer { batchSeconds.recordInterval(since: started) }
            do {
                return try await ingest(envelope, hostID: hostID, logger: logger)
            } catch let unusable as StagingLoader.UnusableBatch {
                try await recordUnusable(envelope, hostID: hostID, reason: unusable.description, logger: logger)
                return .ack
            }
        }
    }

    private func ingest(_ envelope: Envelope<IngestJob>, hostID: UUID, logger: Logger) async throws -> AMQPSettlement {
        let job = envelope.payload
        let customerID = envelope.customerID
        let merge = InventoryMerge(customerID: customerID, hostID: hostID, job: job)
        let destination = job.kind == .files ? try await merge.destination(postgres: postgres, logger: logger) : nil
        return try await postgres.withTenant(customerID, logger: logger) { connection -> AMQPSettlement in
            let uploads = try await connection.query("""
                SELECT compression, ingested_at IS NOT NULL FROM scan_staging.uploads
                WHERE batch_id = \(job.batchID) AND customer_id = \(customerID) AND host_id = \(hostID) FOR UPDATE
                """, logger: logger)
            var staged: (String, Bool)?
            for try await row in uploads.decode((String, Bool).self) { staged = row }
            guard let (compressionName, alreadyIngested) = staged, let compression = IngestJob.Compression(rawValue: compressionName) else {
                return .deadLetter(reason: "batch \(job.batchID) is not staged for this customer and host")
            }
            if alreadyIngested {
                logger.info("batch already ingested; nothing to do")
                return .ack
            }
            let clock = ContinuousClock()
            let started = clock.now
            let loader = StagingLoader(postgres: postgres)
            let outcome: StagingLoader.Outcome
            var deletedKeys: [Int64] = []
            if let destination {
                outcome = try await loader.load(batchID: job.batchID, compression: compression, customerID: customerID, hostID: hostID,
                                                into: destination, connection: connection, logger: logger)
            } else {
                (deletedKeys, outcome) = try await loader.deletedKeys(of: job.batchID, compression: compression, customerID: customerID,
                                                                      logger: logger)
            }
            try await record(outcome.rejects, batchID: job.batchID, customerID: customerID, on: connection, logger: logger)
            let loaded = clock.now
            let hostIsEmpty = try await merge.lockHost(on: connection, logger: logger)
            var listed = 0
            var deleted = 0
            switch destination {
            case .staging?:
                listed = try await merge.merge(accepted: outcome.accepted, intoEmptyHost: hostIsEmpty, on: connection, logger: logger)
            case .inventoryLoad?:
                listed = outcome.accepted
            case nil:
                deleted = try await merge.retire(keys: deletedKeys, on: connection, logger: logger)
            }
            let merged = clock.now
            // The batch is in staging now; its upload row stays as the record of it, its bytes are no longer needed.
            try await connection.query("DELETE FROM scan_staging.upload_chunks WHERE batch_id = \(job.batchID)", logger: logger)
            try await connection.query("""
                UPDATE scan_staging.uploads SET ingested_at = now(), accepted_rows = \(outcome.accepted),
                    rejected_rows = \(outcome.rejected), listed_paths = \(listed)
                WHERE batch_id = \(job.batchID)
                """, logger: logger)
            let retired = try await merge.completeFullScan(on: connection, logger: logger)
            if retired != nil || !job.isFullScan {
                try await finish(envelope, merge, on: connection, logger: logger)
            }
            acceptedRows.increment(by: outcome.accepted)
            rejectedRows.increment(by: outcome.rejected)
            logger.info("batch ingested", metadata: [
                "accepted": "\(outcome.accepted)", "rejected": "\(outcome.rejected)", "deleted": "\(deleted)",
                "retired": "\(retired.map(String.init) ?? "scan not complete")",
                "staging_seconds": "\((loaded - started) / .seconds(1))", "merge_seconds": "\((merged - loaded) / .seconds(1))",
                "finish_seconds": "\((clock.now - merged) / .seconds(1))",
            ])
            return .ack
        }
    }

    /// Rejected rows, in one statement however many there are.
    private func record(_ rejects: [StagingLoader.Reject], batchID: UUID, customerID: UUID, on connection: PostgresConnection,
                        logger: Logger) async throws {
        guard !rejects.isEmpty else { return }
        try await connection.query("""
            INSERT INTO scan_staging.rejects (batch_id, customer_id, line, reason, file_path, row_text)
            SELECT \(batchID), \(customerID), line, reason, nullif(file_path, ''), row_text
            FROM unnest(\(rejects.map(\.line)), \(rejects.map(\.reason)), \(rejects.map { $0.filePath ?? "" }), \(rejects.map(\.rowText)))
                AS rejected (line, reason, file_path, row_text)
            """, logger: logger)
    }

    /// A batch that cannot be read at all is marked ingested with nothing accepted and its reason as a reject, so
    /// it is reported and not retried forever; the inventory is untouched. When it is the last batch of a full scan
    /// to come in, the scan is complete (nothing of it retired, since it cannot say what it did not list), so the
    /// host's totals are refreshed and the host planned, as after any other last batch.
    private func recordUnusable(_ envelope: Envelope<IngestJob>, hostID: UUID, reason: String, logger: Logger) async throws {
        let job = envelope.payload
        let customerID = envelope.customerID
        logger.warning("batch cannot be read; nothing of it is kept", metadata: ["reason": "\(reason)"])
        try await postgres.withTenant(customerID, logger: logger) { connection in
            let merge = InventoryMerge(customerID: customerID, hostID: hostID, job: job)
            _ = try await merge.lockHost(on: connection, logger: logger)
            try await connection.query("""
                INSERT INTO scan_staging.rejects (batch_id, customer_id, line, reason)
                SELECT batch_id, customer_id, 0, \(reason) FROM scan_staging.uploads
                WHERE batch_id = \(job.batchID) AND customer_id = \(customerID) AND ingested_at IS NULL
                """, logger: logger)
            try await connection.query("DELETE FROM scan_staging.upload_chunks WHERE batch_id = \(job.batchID)", logger: logger)
            try await connection.query("""
                UPDATE scan_staging.uploads SET ingested_at = now(), accepted_rows = 0, rejected_rows = 1, listed_paths = 0
                WHERE batch_id = \(job.batchID) AND customer_id = \(customerID) AND ingested_at IS NULL
                """, logger: logger)
            if try await merge.completeFullScan(on: connection, logger: logger) != nil {
                try await finish(envelope, merge, on: connection, logger: logger)
            }
        }
    }

    /// After the last batch of a full scan, or any batch of a partial one: the host's totals, and a plan of it. A
    /// full scan is planned once it is complete, not after each of its batches: a million-file host sends a dozen
    /// batches, and each plan reads all of the host's candidates.
    private func finish(_ envelope: Envelope<IngestJob>, _ merge: InventoryMerge, on connection: PostgresConnection,
                        logger: Logger) async throws {
        try await merge.refreshHostTotals(on: connection, logger: logger)
        try await Outbox.enqueue(envelope.reply(PlannerTrigger(reason: .ingest, batchID: envelope.payload.batchID)),
                                 queue: AMQPTopology.plannerJobs, on: connection, logger: logger)
    }
}
