import AltoModels
import AltoStore
import Foundation
import Logging
import PostgresNIO

/// Finds who a bearer token belongs to: a user's session, an API token, a host's agent, or the bootstrap admin
/// token. A token that is unknown, expired, revoked, tampered with, meant for another audience, or whose user
/// was disabled or signed out belongs to nobody.
struct Authenticator: Sendable {
    let postgres: PostgresClient
    let sessions: SessionTokens
    /// `ALTO_ADMIN_TOKEN`: a super admin credential for setting up the first tenant and users; empty disables it.
    let bootstrapDigest: [UInt8]?
    let logger: Logger

    /// - Parameter bootstrapToken: the super admin's token (`ALTO_ADMIN_TOKEN`); nil turns it off.
    init(postgres: PostgresClient, sessions: SessionTokens, bootstrapToken: String?, logger: Logger) {
        self.postgres = postgres
        self.sessions = sessions
        self.bootstrapDigest = bootstrapToken.map(SecretToken.digest)
        self.logger = logger
    }

    func principal(for token: String) async throws -> Principal? {
        let digest = SecretToken.digest(token)
        if let bootstrapDigest, SecretToken.constantTimeEqual(digest, bootstrapDigest) {
            return Principal(kind: .bootstrapToken, id: nil, customerID: nil, role: .superAdmin, auditName: "admin-token")
        }
        if token.hasPrefix(SecretToken.agentPrefix) { return try await agent(digest: digest) }
        if token.hasPrefix(SecretToken.apiPrefix) { return try await apiToken(digest: digest) }
        if SessionTokens.looksLikeSession(token), let claims = await sessions.verify(token) { return try await user(claims) }
        return nil
    }

    private func agent(digest: [UInt8]) async throws -> Principal? {
        try await postgres.acrossTenants(logger: logger) { connection in
            let rows = try await connection.query("""
                SELECT id, customer_id, agent_token_hash, previous_agent_token_hash FROM hosts
                WHERE agent_token_hash = \(ByteBuffer(bytes: digest))
                   OR (previous_agent_token_hash = \(ByteBuffer(bytes: digest)) AND previous_agent_token_expires_at > now())
                """, logger: logger)
            for try await (hostID, customerID, current, previous) in rows.decode((UUID, UUID, ByteBuffer?, ByteBuffer?).self) {
                let matches = [current, previous].compactMap { $0 }.contains { SecretToken.constantTimeEqual(Array(buffer: $0), digest) }
                guard matches else { continue }
                return Principal(kind: .agent, id: hostID, customerID: customerID, role: .agent,
                                 auditName: "agent:\(hostID.uuidString.lowercased())")
            }
            return nil
        }
    }

    private func apiToken(digest: [UInt8]) async throws -> Principal? {
        try await postgres.acrossTenants(logger: logger) { connection in
            let rows = try await connection.query("""
                UPDATE api_tokens SET last_used_at = now()
                WHERE token_hash = \(ByteBuffer(bytes: digest)) AND revoked_at IS NULL
                  AND (expires_at IS NULL OR expires_at > now())
                RETURNING id, customer_id, role, token_hash
                """, logger: logger)
            for try await (id, customerID, roleName, stored) in rows.decode((UUID, UUID?, String, ByteBuffer).self) {
                guard SecretToken.constantTimeEqual(Array(buffer: stored), digest), let role = Role(rawValue: roleName) else { continue }
                return Principal(kind: .apiToken, id: id, customerID: customerID, role: role, auditName: "token:\(id.uuidString.lowercased())")
            }
            return nil
        }
    }

    /// The user named by a verified session, as the database has them now: a changed role applies at once, and a
    /// disabled or signed-out user's earlier sessions are void.
    private func user(_ claims: SessionClaims) async throws -> Principal? {
        guard let userID = UUID(uuidString: claims.subject.value) else { return nil }
        return try await postgres.acrossTenants(logger: logger) { connection in
            let rows = try await connection.query("""
                SELECT customer_id, role, email FROM users
                WHERE id = \(userID) AND disabled_at IS NULL AND session_epoch = \(claims.epoch)
                """, logger: logger)
            for try await (customerID, roleName, email) in rows.decode((UUID?, String, String).self) {
                guard let role = Role(rawValue: roleName), customerID?.uuidString.lowercased() == claims.tenant else { return nil }
                return Principal(kind: .user, id: userID, customerID: customerID, role: role, auditName: "user:\(email)")
            }
            return nil
        }
    }
}
