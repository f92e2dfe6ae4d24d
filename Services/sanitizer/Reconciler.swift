import Foundation
import Glibc
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle

/// On a schedule: checks that each active stub's copy on a filesystem target this machine can see still exists
/// with its size (a missing copy is a file at risk, so it is logged and audited), and drops staging partitions
/// past their retention.
struct Reconciler: Service {
    let postgres: PostgresClient
    let interval: Duration
    let stagingRetentionDays: Int
    let logger: Logger
    private let missingCopies = Gauge(label: "alto_sanitizer_missing_copies")

    init(postgres: PostgresClient, interval: Duration, stagingRetentionDays: Int, logger: Logger) {
        self.postgres = postgres
        self.interval = interval
        self.stagingRetentionDays = stagingRetentionDays
        self.logger = logger
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await reconcile()
            } catch {
                logger.warning("reconciliation failed, will retry", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    func reconcile() async throws {
        var missing = 0
        let rows = try await postgres.query("""
            SELECT registry.id, registry.customer_id, registry.file_path, registry.tiered_location, registry.size
            FROM stub_registry AS registry JOIN storage_targets AS target ON target.id = registry.target_id
            WHERE registry.state = 'active' AND target.kind = 'filesystem'
            """, logger: logger)
        var findings: [(UUID, String, String)] = []
        for try await (_, customerID, path, location, size) in rows.decode((Int64, UUID, String, String, Int64).self) {
            var info = stat()
            if stat(location, &info) != 0 || Int64(info.st_size) != size {
                missing += 1
                findings.append((customerID, path, location))
            }
        }
        for (customerID, path, location) in findings {
            logger.error("tier-2 copy missing or wrong size", metadata: ["tenant": "\(customerID)", "path": "\(path)", "location": "\(location)"])
            try await postgres.query("""
                INSERT INTO audit_log (customer_id, actor, action, target, result, details)
                VALUES (\(customerID), 'sanitizer', 'stub.verify', \(path), 'missing_copy', jsonb_build_object('location', \(location)::text))
                """, logger: logger)
        }
        missingCopies.record(missing)
        let cutoff = Calendar(identifier: .gregorian).date(byAdding: .day, value: -stagingRetentionDays, to: Date()) ?? Date()
        try await postgres.query("SELECT scan_staging.drop_partitions_before(\(cutoff)::date)", logger: logger)
        // Ingested uploads are kept as long as their staged rows, for a batch's report and for idempotency.
        try await postgres.query("""
            DELETE FROM scan_staging.rejects WHERE batch_id IN (
                SELECT batch_id FROM scan_staging.uploads WHERE ingested_at < \(cutoff))
            """, logger: logger)
        try await postgres.query("DELETE FROM scan_staging.uploads WHERE ingested_at < \(cutoff)", logger: logger)
    }
}
