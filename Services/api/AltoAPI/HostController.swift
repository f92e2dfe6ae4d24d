import AltoModels
import AltoRuntime
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// `/api/v1/hosts`: a tenant's enrolled hosts, and their agent tokens, which are rotated with a grace period in
/// which the replaced token still works (so a running agent can pick up the new one) or revoked at once.
/// Either ends the host's broker account too, in the same transaction, so a token that no longer works leaves no
/// broker login behind.
struct HostController: Sendable {
    let scope: TenantScope
    let accounts: BrokerAccounts?
    /// An agent without a heartbeat for this long is `silent`.
    let silentAfterSeconds: Int

    func add(to router: Router<AltoRequestContext>) {
        let hosts = router.group("/api/v1/hosts")
        hosts.get { _, context in try await list(context, only: nil) }
        hosts.get(":hostID") { _, context in try await list(context, only: try context.parameters.uuid("hostID")) }
        hosts.post(":hostID/agent-token") { request, context in try await rotate(request, context) }
        hosts.delete(":hostID/agent-token") { _, context in try await revoke(context) }
    }

    struct Host: Encodable {
        var id: UUID
        var hostname: String
        var os: String
        var lastHeartbeatAt: Date?
        var lastScanAt: Date?
        var fileCount: Int64
        var totalBytes: Int64
        var agentTokenIssuedAt: Date?
        var agentTokenActive: Bool
        /// `online` (a heartbeat within three intervals), `silent`, or `never` (no heartbeat yet).
        var agentState: String
        var agentVersion: String?
        var volumes: [Volume]
        enum CodingKeys: String, CodingKey {
            case id, hostname, os, volumes
            case lastHeartbeatAt = "last_heartbeat_at", lastScanAt = "last_scan_at", fileCount = "file_count"
            case totalBytes = "total_bytes", agentTokenIssuedAt = "agent_token_issued_at", agentTokenActive = "agent_token_active"
            case agentState = "agent_state", agentVersion = "agent_version"
        }
    }

    /// A managed root's file system as the last heartbeat measured it.
    struct Volume: Codable {
        var mountPoint: String
        var totalBytes: Int64
        var usedBytes: Int64
        var reportedAt: Date
        enum CodingKeys: String, CodingKey {
            case mountPoint = "mount_point", totalBytes = "total_bytes", usedBytes = "used_bytes", reportedAt = "reported_at"
        }
    }

    struct Rotation: Decodable {
        var graceSeconds: Int?
        enum CodingKeys: String, CodingKey { case graceSeconds = "grace_seconds" }
    }

    struct Rotated: Encodable {
        var hostID: UUID
        var agentToken: String
        var previousTokenExpiresAt: Date?
        enum CodingKeys: String, CodingKey {
            case hostID = "host_id", agentToken = "agent_token", previousTokenExpiresAt = "previous_token_expires_at"
        }
    }

    func list(_ context: AltoRequestContext, only hostID: UUID?) async throws -> Response {
        let customerID = try context.tenant()
        let hosts = try await scope.run(context) { connection in
            var hosts: [Host] = []
            let rows = try await connection.query("""
                SELECT id, hostname, os, last_heartbeat_at, last_scan_at, file_count, total_bytes, agent_token_issued_at,
                       agent_token_hash IS NOT NULL,
                       CASE WHEN last_heartbeat_at IS NULL THEN 'never'
                            WHEN last_heartbeat_at > now() - make_interval(secs => \(silentAfterSeconds)) THEN 'online'
                            ELSE 'silent' END,
                       agent_version,
                       coalesce((SELECT json_agg(json_build_object('mount_point', volume.mount_point, 'total_bytes', volume.total_bytes,
                                                                   'used_bytes', volume.used_bytes,
                                                                   'reported_at', to_char(volume.reported_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
                                                 ORDER BY volume.mount_point)
                                 FROM host_volumes AS volume WHERE volume.host_id = hosts.id AND volume.customer_id = hosts.customer_id), '[]')::text
                FROM hosts WHERE customer_id = \(customerID) AND (\(hostID)::uuid IS NULL OR id = \(hostID)) ORDER BY hostname
                """, logger: context.logger)
            let decoder = AltoJSON.decoder()
            for try await (id, name, os, heartbeat, scan, files, bytes, issued, active, state, version, volumes) in rows.decode(
                (UUID, String, String, Date?, Date?, Int64, Int64, Date?, Bool, String, String?, String).self) {
                hosts.append(Host(id: id, hostname: name, os: os, lastHeartbeatAt: heartbeat, lastScanAt: scan, fileCount: files,
                                  totalBytes: bytes, agentTokenIssuedAt: issued, agentTokenActive: active, agentState: state,
                                  agentVersion: version, volumes: try decoder.decode([Volume].self, from: Data(volumes.utf8))))
            }
            return hosts
        }
        guard let hostID else { return try JSONResponse.make(status: .ok, ["hosts": hosts]) }
        guard let host = hosts.first else { throw Self.notFound(hostID) }
        return try JSONResponse.make(status: .ok, host)
    }

    func rotate(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let hostID = try context.parameters.uuid("hostID")
        let grace = try await request.decodeJSON(Rotation.self, allowEmpty: true)?.graceSeconds ?? 3600
        guard (0...7 * 86400).contains(grace) else { throw APIError.invalid("grace_seconds", "must be between 0 and 604800, got \(grace)") }
        let token = SecretToken.generate(prefix: SecretToken.agentPrefix)
        let digest = ByteBuffer(bytes: SecretToken.digest(token))
        let expires = try await scope.audited(context, action: "host.agent_token.rotate", target: "host/\(hostID)",
                                              details: ["grace_seconds": String(grace)]) { connection -> Date?? in
            let rows = try await connection.query("""
                UPDATE hosts SET previous_agent_token_hash = CASE WHEN \(grace) > 0 THEN agent_token_hash END,
                    previous_agent_token_expires_at = CASE WHEN \(grace) > 0 AND agent_token_hash IS NOT NULL
                                                           THEN now() + \(grace) * interval '1 second' END,
                    agent_token_hash = \(digest), agent_token_issued_at = now()
                WHERE id = \(hostID) AND customer_id = \(customerID)
                RETURNING previous_agent_token_expires_at
                """, logger: context.logger)
            for try await expires in rows.decode(Date?.self) {
                try await accounts?.remove(hostID: hostID, logger: context.logger)
                return .some(expires)
            }
            return .none
        }
        guard let previousExpires = expires else { throw Self.notFound(hostID) }
        return try JSONResponse.make(status: .created, Rotated(hostID: hostID, agentToken: token, previousTokenExpiresAt: previousExpires))
    }

    /// Revokes the host's agent tokens, current and previous, at once; the agent is locked out until a rotation.
    func revoke(_ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let hostID = try context.parameters.uuid("hostID")
        let found = try await scope.audited(context, action: "host.agent_token.revoke", target: "host/\(hostID)") { connection in
            let rows = try await connection.query("""
                UPDATE hosts SET agent_token_hash = NULL, previous_agent_token_hash = NULL, previous_agent_token_expires_at = NULL
                WHERE id = \(hostID) AND customer_id = \(customerID) RETURNING 1
                """, logger: context.logger)
            for try await _ in rows {
                try await accounts?.remove(hostID: hostID, logger: context.logger)
                return true
            }
            return false
        }
        guard found else { throw Self.notFound(hostID) }
        return Response(status: .noContent)
    }

    static func notFound(_ id: UUID) -> APIError {
        APIError(.notFound, "not_found", "host \(id) does not exist")
    }
}
