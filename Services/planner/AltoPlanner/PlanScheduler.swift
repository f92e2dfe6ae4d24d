import AltoAMQP
import AltoModels
import AltoStore
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Plans every host on a schedule, beside the plans ingests and admins ask for, so rules with a schedule window get
/// their chance inside it. Due hosts are claimed with `FOR UPDATE SKIP LOCKED`, so however many replicas run, each
/// host gets one scheduled trigger per interval.
struct PlanScheduler: Service {
    let postgres: PostgresClient
    /// How long after its last plan a host is planned again.
    let interval: Duration
    /// How often the scheduler looks for due hosts.
    let pollInterval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let triggered = try await triggerDueHosts()
                if triggered > 0 { logger.info("scheduled plans queued", metadata: ["hosts": "\(triggered)"]) }
            } catch {
                logger.warning("scheduling plans failed, will retry", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pollInterval) }
        }
    }

    /// Queues a planner trigger for each host with enabled rules not planned for `interval`; returns how many.
    func triggerDueHosts() async throws -> Int {
        let seconds = Double(interval.components.seconds)
        return try await postgres.acrossTenants(logger: logger) { connection in
            let rows = try await connection.query("""
                SELECT hosts.id, hosts.customer_id FROM hosts
                WHERE (hosts.last_planned_at IS NULL OR hosts.last_planned_at < now() - \(seconds) * interval '1 second')
                  AND EXISTS (SELECT 1 FROM rules WHERE rules.customer_id = hosts.customer_id AND rules.enabled
                              AND rules.deleted_at IS NULL)
                ORDER BY hosts.last_planned_at NULLS FIRST LIMIT 100
                FOR UPDATE OF hosts SKIP LOCKED
                """, logger: logger)
            var due: [(UUID, UUID)] = []
            for try await row in rows.decode((UUID, UUID).self) { due.append(row) }
            for (hostID, customerID) in due {
                let envelope = Envelope(customerID: customerID, hostID: hostID, payload: PlannerTrigger(reason: .schedule))
                try await Outbox.enqueue(envelope, queue: AMQPTopology.plannerJobs, on: connection, logger: logger)
                try await connection.query("UPDATE hosts SET last_planned_at = now() WHERE id = \(hostID)", logger: logger)
            }
            return due.count
        }
    }
}
