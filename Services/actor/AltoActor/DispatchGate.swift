import Foundation
import Logging
import PostgresNIO

/// The per-host and per-target limits on jobs in flight: a host runs at most `hostLimit` tiering jobs at once, a
/// target takes at most its `max_concurrency`. A job that does not fit stays queued and the sweeper dispatches it
/// when one finishes. Advisory locks on host and target (always in that order) make the count and the dispatch one
/// step across actor replicas.
struct DispatchGate: Sendable {
    let hostLimit: Int

    /// Locks the job's host and target for the rest of the transaction and says whether one more job fits.
    func admits(hostID: UUID, targetID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        try await connection.query("SELECT pg_advisory_xact_lock(hashtext('alto.dispatch.host.' || \(hostID.uuidString)))", logger: logger)
        try await connection.query("SELECT pg_advisory_xact_lock(hashtext('alto.dispatch.target.' || \(targetID.uuidString)))", logger: logger)
        let rows = try await connection.query("""
            SELECT (SELECT count(*) FROM tiering_jobs WHERE host_id = \(hostID) AND state IN ('dispatched', 'running')),
                   (SELECT count(*) FROM tiering_jobs WHERE target_id = \(targetID) AND state IN ('dispatched', 'running')),
                   (SELECT max_concurrency FROM storage_targets WHERE id = \(targetID))
            """, logger: logger)
        for try await (onHost, onTarget, targetLimit) in rows.decode((Int, Int, Int?).self) {
            return onHost < hostLimit && (targetLimit.map { onTarget < $0 } ?? true)
        }
        return false
    }
}
