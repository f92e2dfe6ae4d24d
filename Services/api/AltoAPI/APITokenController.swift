import AltoModels
import AltoRuntime
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// `/api/v1/api-tokens`: bearer tokens for automation, each with a role of its tenant and an optional expiry.
/// The token is shown once, when it is made; only its SHA-256 is kept. Revoking one takes effect at once.
struct APITokenController: Sendable {
    let scope: TenantScope

    func add(to router: Router<AltoRequestContext>) {
        let tokens = router.group("/api/v1/api-tokens")
        tokens.get { _, context in try await list(context) }
        tokens.post { request, context in try await create(request, context) }
        tokens.delete(":tokenID") { _, context in try await revoke(context) }
    }

    struct NewToken: Decodable {
        var name: String
        var role: Role
        var expiresInDays: Int?
        enum CodingKeys: String, CodingKey {
            case name, role
            case expiresInDays = "expires_in_days"
        }
    }

    struct Token: Encodable {
        var id: UUID
        var name: String
        var role: String
        var createdBy: String
        var createdAt: Date
        var expiresAt: Date?
        var revokedAt: Date?
        var lastUsedAt: Date?
        /// Only in the answer to its creation.
        var token: String?
        enum CodingKeys: String, CodingKey {
            case id, name, role, token
            case createdBy = "created_by", createdAt = "created_at", expiresAt = "expires_at", revokedAt = "revoked_at"
            case lastUsedAt = "last_used_at"
        }
    }

    func list(_ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let tokens = try await scope.run(context) { connection in
            var tokens: [Token] = []
            let rows = try await connection.query("""
                SELECT id, name, role, created_by, created_at, expires_at, revoked_at, last_used_at FROM api_tokens
                WHERE customer_id = \(customerID) ORDER BY created_at
                """, logger: context.logger)
            for try await (id, name, role, by, created, expires, revoked, used) in rows.decode(
                (UUID, String, String, String, Date, Date?, Date?, Date?).self) {
                tokens.append(Token(id: id, name: name, role: role, createdBy: by, createdAt: created, expiresAt: expires,
                                    revokedAt: revoked, lastUsedAt: used))
            }
            return tokens
        }
        return try JSONResponse.make(status: .ok, ["api_tokens": tokens])
    }

    func create(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let body = try await request.decodeJSON(NewToken.self, limit: 16 << 10)
        guard !body.name.trimmingCharacters(in: .whitespaces).isEmpty else { throw APIError.invalid("name", "must not be empty") }
        guard body.role != .superAdmin, body.role != .agent else {
            throw APIError.invalid("role", "an API token may be admin, operator, support or viewer")
        }
        if let days = body.expiresInDays, !(1...3650).contains(days) {
            throw APIError.invalid("expires_in_days", "must be between 1 and 3650, got \(days)")
        }
        let caller = try context.caller()
        let id = UUID()
        let token = SecretToken.generate(prefix: SecretToken.apiPrefix)
        let digest = ByteBuffer(bytes: SecretToken.digest(token))
        let created = try await scope.audited(context, action: "api_token.create", target: "api_token/\(id)",
                                              details: ["name": body.name, "role": body.role.rawValue]) { connection -> Token in
            let rows = try await connection.query("""
                INSERT INTO api_tokens (id, customer_id, name, role, token_hash, created_by, expires_at)
                VALUES (\(id), \(customerID), \(body.name), \(body.role.rawValue), \(digest), \(caller.auditName),
                        now() + \(body.expiresInDays)::integer * interval '1 day')
                RETURNING created_at, expires_at
                """, logger: context.logger)
            for try await (createdAt, expires) in rows.decode((Date, Date?).self) {
                return Token(id: id, name: body.name, role: body.role.rawValue, createdBy: caller.auditName, createdAt: createdAt,
                             expiresAt: expires, token: token)
            }
            throw APIError(.internalServerError, "internal", "the token was not stored")
        }
        return try JSONResponse.make(status: .created, created)
    }

    func revoke(_ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let tokenID = try context.parameters.uuid("tokenID")
        let found = try await scope.audited(context, action: "api_token.revoke", target: "api_token/\(tokenID)") { connection in
            let rows = try await connection.query("""
                UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = \(tokenID) AND customer_id = \(customerID)
                RETURNING 1
                """, logger: context.logger)
            for try await _ in rows { return true }
            return false
        }
        guard found else { throw APIError(.notFound, "not_found", "API token \(tokenID) does not exist") }
        return Response(status: .noContent)
    }
}
