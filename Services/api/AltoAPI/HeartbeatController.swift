import AltoAMQP
import AltoModels
import AltoPlanning
import AltoRuntime
import AltoStore
import Foundation
import Hummingbird
import Logging
import Metrics
import PostgresNIO

/// `POST /api/v1/hosts/{host_id}/heartbeat`: an agent says it is alive and how full its managed volumes are. The
/// volumes replace the host's previous report, and a volume that went above a watermark rule's high watermark
/// queues a plan for the host at once (reason `watermark`), in the same transaction, so a heartbeat is recorded and
/// its plan queued, or neither.
struct HeartbeatController: Sendable {
    let postgres: PostgresClient
    /// Told to the agent, so the interval is set in one place.
    let intervalSeconds: Int
    private let heartbeats = Counter(label: "alto_api_heartbeats_total")
    private let watermarkPlans = Counter(label: "alto_api_watermark_plans_total")

    struct Answer: Encodable {
        struct Crossing: Encodable {
            var ruleID: UUID
            var mountPoint: String
            var usedPercent: Double
            enum CodingKeys: String, CodingKey {
                case ruleID = "rule_id"
                case mountPoint = "mount_point"
                case usedPercent = "used_percent"
            }
        }

        var receivedAt: Date
        var nextHeartbeatSeconds: Int
        /// The plan queued because a volume crossed a high watermark, if one was.
        var planID: UUID?
        var watermarksCrossed: [Crossing]

        enum CodingKeys: String, CodingKey {
            case receivedAt = "received_at"
            case nextHeartbeatSeconds = "next_heartbeat_seconds"
            case planID = "plan_id"
            case watermarksCrossed = "watermarks_crossed"
        }
    }

    func add(to router: Router<AltoRequestContext>) {
        router.post("/api/v1/hosts/:hostID/heartbeat") { request, context in
            try await heartbeat(request, context)
        }
    }

    func heartbeat(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let hostID = try context.agentHost(named: try context.parameters.uuid("hostID"))
        let customerID = try context.tenant()
        var logger = context.logger
        logger[metadataKey: "host"] = "\(hostID)"
        let heartbeat = try await request.decodeJSON(AgentHeartbeat.self)
        do { try heartbeat.validate() } catch { throw APIError.invalid(error.field, error.message) }

        let answer = try await postgres.withTenant(customerID, logger: logger) { connection in
            try await record(heartbeat, customerID: customerID, hostID: hostID, on: connection, logger: logger)
        }
        heartbeats.increment()
        if let planID = answer.planID {
            watermarkPlans.increment()
            logger.info("a volume crossed a high watermark; plan queued", metadata: [
                "plan": "\(planID)", "volumes": "\(answer.watermarksCrossed.map(\.mountPoint))",
            ])
        }
        return try JSONResponse.make(status: .ok, answer)
    }

    private func record(_ heartbeat: AgentHeartbeat, customerID: UUID, hostID: UUID, on connection: PostgresConnection,
                        logger: Logger) async throws -> Answer {
        // Serializes the host's heartbeats, so two in flight cannot both see the volume below its watermark.
        try await connection.query("SELECT 1 FROM hosts WHERE id = \(hostID) AND customer_id = \(customerID) FOR UPDATE",
                                   logger: logger)
        let previous = try await HostPlanComputation.loadVolumes(customerID: customerID, hostID: hostID, on: connection,
                                                                 logger: logger)
        let mountPoints = heartbeat.volumes.map(\.mountPoint)
        try await connection.query("""
            DELETE FROM host_volumes
            WHERE customer_id = \(customerID) AND host_id = \(hostID) AND NOT (mount_point = ANY(\(mountPoints)))
            """, logger: logger)
        try await connection.query("""
            INSERT INTO host_volumes (customer_id, host_id, mount_point, total_bytes, used_bytes, reported_at)
            SELECT \(customerID), \(hostID), volume.mount_point, volume.total_bytes, volume.used_bytes, now()
            FROM unnest(\(mountPoints)::text[], \(heartbeat.volumes.map(\.totalBytes))::bigint[],
                        \(heartbeat.volumes.map(\.usedBytes))::bigint[]) AS volume(mount_point, total_bytes, used_bytes)
            ON CONFLICT (host_id, mount_point) DO UPDATE SET total_bytes = EXCLUDED.total_bytes,
                used_bytes = EXCLUDED.used_bytes, reported_at = EXCLUDED.reported_at
            """, logger: logger)
        try await connection.query("UPDATE hosts SET last_heartbeat_at = now(), agent_version = \(heartbeat.agentVersion) WHERE id = \(hostID)",
                                   logger: logger)

        let rules = try await RuleRecords.load(customerID: customerID, on: connection, logger: logger)
        let crossings = AgentHeartbeat.crossings(previous: previous, current: heartbeat.volumes, rules: rules)
        var answer = Answer(receivedAt: Date(), nextHeartbeatSeconds: intervalSeconds, planID: nil,
                            watermarksCrossed: crossings.map {
                                Answer.Crossing(ruleID: $0.rule.id, mountPoint: $0.volume.mountPoint, usedPercent: $0.volume.usedPercent)
                            })
        if !crossings.isEmpty {
            let envelope = Envelope(customerID: customerID, hostID: hostID, payload: PlannerTrigger(reason: .watermark))
            try await Outbox.enqueue(envelope, queue: AMQPTopology.plannerJobs, on: connection, logger: logger)
            answer.planID = envelope.id
        }
        return answer
    }
}
