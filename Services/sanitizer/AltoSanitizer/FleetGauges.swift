import AltoAMQP
import AltoStore
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle

/// Reads, every `interval`, what no single service sees from its own work and an operator alerts on: agents
/// online and silent, each tenant's bytes saved and stubs, the central queues and their dead-letter queues, the
/// ingest's and the outbox's backlog. Every sanitizer replica records them (they are reads), so a dashboard takes
/// the `max` across replicas.
struct FleetGauges: Service {
    let postgres: PostgresClient
    let publisher: AMQPPublisher
    let interval: Duration
    let silentAfterSeconds: Int
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await refresh()
            } catch {
                logger.warning("fleet gauges not refreshed, will retry", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    func refresh() async throws {
        let snapshot = try await postgres.acrossTenants(logger: logger) { connection in
            try await Snapshot.read(silentAfterSeconds: silentAfterSeconds, on: connection, logger: logger)
        }
        for (tenant, states) in snapshot.hosts {
            for state in ["online", "silent", "never"] {
                Gauge(label: "alto_hosts", dimensions: [("tenant", tenant), ("state", state)]).record(states[state] ?? 0)
            }
        }
        for (tenant, saved) in snapshot.bytesSaved {
            Gauge(label: "alto_saved_bytes", dimensions: [("tenant", tenant)]).record(saved)
        }
        for (tenant, stubs) in snapshot.stubs {
            Gauge(label: "alto_stubs", dimensions: [("tenant", tenant)]).record(stubs)
        }
        Gauge(label: "alto_ingest_lag_seconds").record(snapshot.ingestLagSeconds)
        Gauge(label: "alto_outbox_backlog").record(snapshot.outboxBacklog)
        Gauge(label: "alto_outbox_oldest_seconds").record(snapshot.outboxOldestSeconds)
        for depth in try await publisher.queueDepths(of: AMQPTopology.workQueues) {
            Gauge(label: "alto_queue_messages", dimensions: [("queue", depth.queue)]).record(depth.messages)
            Gauge(label: "alto_queue_consumers", dimensions: [("queue", depth.queue)]).record(depth.consumers)
        }
        Gauge(label: "alto_fleet_refresh_timestamp_seconds").record(Date().timeIntervalSince1970)
    }

    /// The database's side of the gauges, read in one transaction.
    struct Snapshot {
        var hosts: [String: [String: Int64]] = [:]
        var bytesSaved: [String: Int64] = [:]
        var stubs: [String: Int64] = [:]
        var ingestLagSeconds: Double = 0
        var outboxBacklog: Int64 = 0
        var outboxOldestSeconds: Double = 0

        static func read(silentAfterSeconds: Int, on connection: PostgresConnection, logger: Logger) async throws -> Snapshot {
            var snapshot = Snapshot()
            for try await (tenant, state, count) in try await connection.query("""
                SELECT customer_id::text,
                       CASE WHEN last_heartbeat_at IS NULL THEN 'never'
                            WHEN last_heartbeat_at > now() - make_interval(secs => \(silentAfterSeconds)) THEN 'online'
                            ELSE 'silent' END AS state,
                       count(*)
                FROM hosts GROUP BY 1, 2
                """, logger: logger).decode((String, String, Int64).self) {
                snapshot.hosts[tenant, default: [:]][state] = count
            }
            // The series, not the registry: a few rows per host and day, where the registry has a row per stub.
            for try await (tenant, saved, stubs) in try await connection.query("""
                SELECT customer_id::text, sum(bytes_saved)::bigint, sum(files_tiered - files_recalled - files_removed)::bigint FROM savings_daily GROUP BY 1
                """, logger: logger).decode((String, Int64, Int64).self) {
                snapshot.bytesSaved[tenant] = saved
                snapshot.stubs[tenant] = stubs
            }
            for try await (lag, backlog, oldest) in try await connection.query("""
                SELECT coalesce((SELECT extract(epoch FROM now() - min(received_at)) FROM scan_staging.uploads WHERE ingested_at IS NULL), 0)::float8,
                       (SELECT count(*) FROM outbox),
                       coalesce((SELECT extract(epoch FROM now() - min(created_at)) FROM outbox), 0)::float8
                """, logger: logger).decode((Double, Int64, Double).self) {
                snapshot.ingestLagSeconds = lag
                snapshot.outboxBacklog = backlog
                snapshot.outboxOldestSeconds = oldest
            }
            return snapshot
        }
    }
}
