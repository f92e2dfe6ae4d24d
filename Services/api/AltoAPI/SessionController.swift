import AltoModels
import AltoRuntime
import AltoStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO

/// `/api/v1/sessions`: password login for users, which hands out a short-lived session token, and logout, which
/// voids every session of the user. Every login is audited, failed ones too, and repeated failures are throttled.
struct SessionController: Sendable {
    let postgres: PostgresClient
    let sessions: SessionTokens
    let passwords: PasswordHasher
    let throttle: LoginThrottle
    let auditTrail: AuditTrail

    func add(to router: Router<AltoRequestContext>) {
        router.post("/api/v1/sessions") { request, context in try await login(request, context) }
        router.delete("/api/v1/sessions") { _, context in try await logout(context) }
        router.get("/api/v1/me") { _, context in try await me(context) }
    }

    struct Credentials: Decodable {
        var email: String
        var password: String
    }

    struct Session: Encodable {
        var token: String
        var expiresAt: Date
        var user: Me
        enum CodingKeys: String, CodingKey {
            case token, user
            case expiresAt = "expires_at"
        }
    }

    struct Me: Encodable {
        var kind: String
        var id: UUID?
        var customerID: UUID?
        var role: String
        var name: String
        /// What the role may do, from the table the API enforces: the web UI shows only what these allow.
        var permissions: [String]
        enum CodingKeys: String, CodingKey {
            case kind, id, role, name, permissions
            case customerID = "customer_id"
        }

        init(kind: String, id: UUID?, customerID: UUID?, role: String, name: String) {
            (self.kind, self.id, self.customerID, self.role, self.name) = (kind, id, customerID, role, name)
            permissions = Role(rawValue: role).flatMap { AccessPolicy.grants[$0] }.map { $0.map(\.rawValue).sorted() } ?? []
        }
    }

    func login(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let credentials = try await request.decodeJSON(Credentials.self, limit: 16 << 10)
        let email = credentials.email.trimmingCharacters(in: .whitespaces).lowercased()
        let client = context.remoteAddress.map { "address:\($0.ipAddress ?? "")" } ?? "address:unknown"
        let keys = ["email:\(email)", client]
        if let wait = throttle.retryAfter(keys) {
            try await audit(email: email, customerID: nil, result: "throttled", context: context)
            var response = JSONResponse.error(status: .tooManyRequests, code: "too_many_attempts",
                                              message: "too many failed logins; try again later", field: nil)
            response.headers[.retryAfter] = String(max(1, wait.components.seconds))
            return response
        }
        typealias Account = (UUID, UUID?, String, String, Int, Bool)
        let user = try await postgres.acrossTenants(logger: context.logger) { connection -> Account? in
            let rows = try await connection.query("""
                SELECT id, customer_id, role, password_hash, session_epoch, disabled_at IS NULL FROM users
                WHERE lower(email) = \(email)
                """, logger: context.logger)
            for try await row in rows.decode(Account.self) { return row }
            return nil
        }
        let matches = try await passwords.verify(credentials.password, hash: user?.3 ?? passwords.decoy)
        guard let (userID, customerID, roleName, _, epoch, enabled) = user, matches, enabled, let role = Role(rawValue: roleName) else {
            throttle.recordFailure(keys)
            try await audit(email: email, customerID: user?.1, result: "failed", context: context)
            throw APIError(.unauthorized, "invalid_credentials", "the email or the password is wrong")
        }
        throttle.recordSuccess(keys)
        let issued = try await sessions.issue(userID: userID, customerID: customerID, role: role, epoch: epoch)
        try await audit(email: email, customerID: customerID, result: "ok", context: context)
        return try JSONResponse.make(status: .created, Session(
            token: issued.token, expiresAt: issued.expiresAt,
            user: Me(kind: Principal.Kind.user.rawValue, id: userID, customerID: customerID, role: role.rawValue, name: "user:\(email)")))
    }

    /// Ends every session of the calling user: tokens of the current session epoch stop working.
    func logout(_ context: AltoRequestContext) async throws -> Response {
        let principal = try context.caller()
        guard principal.kind == .user, let userID = principal.id else {
            throw APIError(.badRequest, "not_a_session", "only a user's session can be ended; revoke tokens instead")
        }
        let record = AuditRecord(actor: principal.auditName, action: "session.logout", target: "user/\(userID)")
        try await postgres.acrossTenants(logger: context.logger) { connection in
            try await connection.query("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = \(userID)", logger: context.logger)
            try await auditTrail.append([record], customerID: principal.customerID, on: connection, logger: context.logger)
        }
        return Response(status: .noContent)
    }

    func me(_ context: AltoRequestContext) async throws -> Response {
        let principal = try context.caller()
        return try JSONResponse.make(status: .ok, Me(kind: principal.kind.rawValue, id: principal.id, customerID: principal.customerID,
                                                     role: principal.role.rawValue, name: principal.auditName))
    }

    private func audit(email: String, customerID: UUID?, result: String, context: AltoRequestContext) async throws {
        let record = AuditRecord(actor: "user:\(email)", action: "session.login", target: "user:\(email)", result: result,
                                 details: ["address": context.remoteAddress?.ipAddress])
        try await auditTrail.record([record], customerID: customerID, client: postgres, logger: context.logger)
    }
}
