import AltoStore
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
    let auditTrail: AuditTrail
    let logger: Logger
    private let missingCopies = Gauge(label: "alto_sanitizer_missing_copies")

    init(postgres: PostgresClient, interval: Duration, stagingRetentionDays: Int, auditTrail: AuditTrail, logger: Logger) {
        self.postgres = postgres
        self.interval = interval
        self.stagingRetentionDays = stagingRetentionDays
        self.auditTrail = auditTrail
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
        // Every tenant's stubs are checked; what is found is recorded in each tenant's own trail.
        let findings = try await postgres.acrossTenants(logger: logger) { connection in
            let rows = try await connection.query("""
                SELECT registry.customer_id, registry.file_path, registry.tiered_location, registry.size
                FROM stub_registry AS registry JOIN storage_targets AS target ON target.id = registry.target_id
                WHERE registry.state = 'active' AND target.kind = 'filesystem'
                """, logger: logger)
            var findings: [(UUID, String, String)] = []
            for try await (customerID, path, location, size) in rows.decode((UUID, String, String, Int64).self) {
                var info = stat()
                if stat(location, &info) != 0 || Int64(info.st_size) != size {
                    findings.append((customerID, path, location))
                }
            }
            return findings
        }
        for (customerID, copies) in Dictionary(grouping: findings, by: \.0) {
            for (_, path, location) in copies {
                logger.error("tier-2 copy missing or wrong size", metadata: ["tenant": "\(customerID)", "path": "\(path)", "location": "\(location)"])
            }
            try await auditTrail.record(copies.map { _, path, location in
                AuditRecord(actor: "sanitizer", action: "stub.verify", target: path, result: "missing_copy", details: ["location": location])
            }, customerID: customerID, client: postgres, logger: logger)
        }
        missingCopies.record(findings.count)
        let cutoff = Calendar(identifier: .gregorian).date(byAdding: .day, value: -stagingRetentionDays, to: Date()) ?? Date()
        try await postgres.query("SELECT scan_staging.drop_partitions_before(\(cutoff)::date)", logger: logger)
        // Ingested uploads are kept as long as their staged rows, for a batch's report and for idempotency.
        try await postgres.acrossTenants(logger: logger) { connection in
            try await connection.query("""
                DELETE FROM scan_staging.rejects WHERE batch_id IN (
                    SELECT batch_id FROM scan_staging.uploads WHERE ingested_at < \(cutoff))
                """, logger: logger)
            try await connection.query("DELETE FROM scan_staging.uploads WHERE ingested_at < \(cutoff)", logger: logger)
        }
    }
}
