import AltoCentral
import AltoModels
import AltoStore
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle

/// On a schedule: plans a reconciliation run for every live target that holds stubs (`ReconciliationPlanner`),
/// expires runs that were never reported, records the open findings and the stubs at risk as gauges, and drops
/// staging past its retention. One replica at a time does it,
/// under an advisory lock, however many sanitizers run.
struct ReconciliationScheduler: Service {
    let postgres: PostgresClient
    let interval: Duration
    let samplePercent: Double
    let stagingRetentionDays: Int
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await sweep()
            } catch {
                logger.warning("reconciliation sweep failed, will retry", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    func sweep() async throws {
        // Every tenant's targets are visited; each tenant's runs are planned in a transaction of its own.
        let targets = try await postgres.acrossTenants(logger: logger) { connection -> [(UUID, UUID)]? in
            let locked = try await connection.query("SELECT pg_try_advisory_xact_lock(hashtext('alto.sanitizer.sweep'))", logger: logger)
                .collect().map { try $0.decode(Bool.self) }
            guard locked.first == true else { return nil }
            try await connection.query("""
                WITH expired AS (
                    UPDATE reconciliation_runs SET state = 'expired'
                    WHERE state = 'sent' AND created_at < now() - make_interval(secs => \(ReconciliationPlanner.runTimeout))
                    RETURNING id)
                DELETE FROM scan_staging.reconciliation_rows WHERE run_id IN (SELECT id FROM expired)
                """, logger: logger)
            return try await connection.query("""
                SELECT target.customer_id, target.id FROM storage_targets AS target
                WHERE target.deleted_at IS NULL AND EXISTS (
                    SELECT 1 FROM stub_registry AS registry
                    WHERE registry.customer_id = target.customer_id AND registry.target_id = target.id AND registry.state = 'active')
                ORDER BY target.customer_id, target.id
                """, logger: logger).collect().map { try $0.decode((UUID, UUID).self) }
        }
        guard let targets else {
            logger.debug("another sanitizer is sweeping")
            return
        }
        for (customerID, targetID) in targets {
            let runs = try await postgres.withTenant(customerID, logger: logger) { connection in
                try await ReconciliationPlanner.plan(target: targetID, customerID: customerID, verification: .sample,
                                                     samplePercent: samplePercent, requestedBy: "sanitizer", on: connection, logger: logger)
            }
            if let runs, !runs.isEmpty {
                logger.info("reconciliation planned", metadata: ["tenant": "\(customerID)", "target": "\(targetID)", "runs": "\(runs.count)"])
            }
        }
        try await recordOpenFindings()
        try await dropExpiredStaging()
    }

    /// The open findings of every tenant by kind, and the stubs at risk, as gauges: what an alert rule watches.
    private func recordOpenFindings() async throws {
        let (open, atRisk) = try await postgres.acrossTenants(logger: logger) { connection in
            let open = try await connection.query("SELECT kind, count(*) FROM findings WHERE state = 'open' GROUP BY kind", logger: logger)
                .collect().map { try $0.decode((String, Int64).self) }
            let atRisk = try await connection.query("SELECT count(*) FROM stub_registry WHERE state = 'active' AND at_risk", logger: logger)
                .collect().map { try $0.decode(Int64.self) }.first ?? 0
            return (Dictionary(open) { first, _ in first }, atRisk)
        }
        for kind in FindingKind.allCases {
            Gauge(label: "alto_sanitizer_open_findings", dimensions: [("kind", kind.rawValue)]).record(open[kind.rawValue] ?? 0)
        }
        Gauge(label: "alto_sanitizer_stubs_at_risk").record(atRisk)
    }

    /// Staged scans, and uploads kept for a batch's report and idempotency, go after `stagingRetentionDays`.
    private func dropExpiredStaging() async throws {
        let cutoff = Calendar(identifier: .gregorian).date(byAdding: .day, value: -stagingRetentionDays, to: Date()) ?? Date()
        try await postgres.query("SELECT scan_staging.drop_partitions_before(\(cutoff)::date)", logger: logger)
        try await postgres.acrossTenants(logger: logger) { connection in
            try await connection.query("""
                DELETE FROM scan_staging.rejects WHERE batch_id IN (
                    SELECT batch_id FROM scan_staging.uploads WHERE ingested_at < \(cutoff))
                """, logger: logger)
            try await connection.query("DELETE FROM scan_staging.uploads WHERE ingested_at < \(cutoff)", logger: logger)
        }
    }
}
