import AltoModels
import AltoRuntime
import AltoStore
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// `/api/v1/users`: the people who sign in to a tenant (or, for the provider's super admins, to no tenant).
/// Passwords are stored as bcrypt hashes and never returned. Changing a user's password, role or disabling them
/// ends their sessions.
struct UserController: Sendable {
    let scope: TenantScope
    let passwords: PasswordHasher

    func add(to router: Router<AltoRequestContext>) {
        let users = router.group("/api/v1/users")
        users.get { _, context in try await list(context, only: nil) }
        users.post { request, context in try await create(request, context) }
        users.get(":userID") { _, context in try await list(context, only: try context.parameters.uuid("userID")) }
        users.patch(":userID") { request, context in try await update(request, context) }
        users.delete(":userID") { _, context in try await delete(context) }
    }

    struct User: Encodable {
        var id: UUID
        var customerID: UUID?
        var email: String
        var displayName: String
        var role: String
        var disabled: Bool
        var createdAt: Date
        enum CodingKeys: String, CodingKey {
            case id, email, role, disabled
            case customerID = "customer_id", displayName = "display_name", createdAt = "created_at"
        }
    }

    struct NewUser: Decodable {
        var email: String
        var password: String
        var role: Role
        var displayName: String?
        enum CodingKeys: String, CodingKey {
            case email, password, role
            case displayName = "display_name"
        }
    }

    struct Change: Decodable {
        var password: String?
        var role: Role?
        var disabled: Bool?
        var displayName: String?
        enum CodingKeys: String, CodingKey {
            case password, role, disabled
            case displayName = "display_name"
        }
    }

    func list(_ context: AltoRequestContext, only userID: UUID?) async throws -> Response {
        let customerID = try context.tenant()
        let users = try await scope.run(context) { connection in
            var users: [User] = []
            let rows = try await connection.query("""
                SELECT id, customer_id, email, display_name, role, disabled_at IS NOT NULL, created_at FROM users
                WHERE customer_id = \(customerID) AND (\(userID)::uuid IS NULL OR id = \(userID)) ORDER BY email
                """, logger: context.logger)
            for try await (id, customer, email, name, role, disabled, created) in rows.decode(
                (UUID, UUID?, String, String, String, Bool, Date).self) {
                users.append(User(id: id, customerID: customer, email: email, displayName: name, role: role, disabled: disabled,
                                  createdAt: created))
            }
            return users
        }
        guard let userID else { return try JSONResponse.make(status: .ok, ["users": users]) }
        guard let user = users.first else { throw Self.notFound(userID) }
        return try JSONResponse.make(status: .ok, user)
    }

    func create(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let body = try await request.decodeJSON(NewUser.self, limit: 16 << 10)
        let email = body.email.trimmingCharacters(in: .whitespaces)
        guard email.contains("@"), email.count <= 254, !email.contains(where: \.isWhitespace) else {
            throw APIError.invalid("email", "must be an email address")
        }
        if let problem = PasswordHasher.problem(with: body.password) { throw APIError.invalid("password", problem) }
        let id = UUID()
        let hash = try await passwords.hash(body.password)
        let details: [String: String?] = ["email": email, "role": body.role.rawValue]
        try await Self.uniqueEmail {
            if body.role == .superAdmin {
                // Super admins belong to no tenant; only a super admin acting for none may create one.
                guard try context.caller().role == .superAdmin, context.customerID == nil else {
                    throw APIError(.forbidden, "forbidden", "only a super admin, naming no customer, may create a super admin")
                }
                try await scope.auditedAcrossTenants(context, action: "user.create", target: "user/\(id)", details: details) { connection in
                    try await insert(id: id, customerID: nil, email: email, hash: hash, body: body, on: connection, context: context)
                }
            } else {
                guard body.role != .agent else { throw APIError.invalid("role", "agent is not a role a user can have") }
                let customerID = try context.tenant()
                try await scope.audited(context, action: "user.create", target: "user/\(id)", details: details) { connection in
                    try await insert(id: id, customerID: customerID, email: email, hash: hash, body: body, on: connection, context: context)
                }
            }
        }
        return try JSONResponse.make(status: .created, User(id: id, customerID: context.customerID, email: email,
                                                            displayName: body.displayName ?? "", role: body.role.rawValue,
                                                            disabled: false, createdAt: Date()))
    }

    private func insert(id: UUID, customerID: UUID?, email: String, hash: String, body: NewUser, on connection: PostgresConnection,
                        context: AltoRequestContext) async throws {
        try await connection.query("""
            INSERT INTO users (id, customer_id, email, display_name, password_hash, role)
            VALUES (\(id), \(customerID), \(email), \(body.displayName ?? ""), \(hash), \(body.role.rawValue))
            """, logger: context.logger)
    }

    func update(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let userID = try context.parameters.uuid("userID")
        let change = try await request.decodeJSON(Change.self, limit: 16 << 10)
        if let role = change.role, role == .superAdmin || role == .agent {
            throw APIError.invalid("role", "a tenant's user may be admin, operator, support or viewer")
        }
        if let password = change.password, let problem = PasswordHasher.problem(with: password) {
            throw APIError.invalid("password", problem)
        }
        let hash: String? = if let password = change.password { try await passwords.hash(password) } else { nil }
        // A new password, role or disabling ends the user's sessions; a new display name does not.
        let endsSessions = change.password != nil || change.role != nil || change.disabled != nil
        let details: [String: String?] = ["role": change.role?.rawValue, "disabled": change.disabled.map(String.init),
                                          "password_changed": change.password == nil ? nil : "true"]
        let found = try await scope.audited(context, action: "user.update", target: "user/\(userID)", details: details) { connection in
            let rows = try await connection.query("""
                UPDATE users SET password_hash = coalesce(\(hash), password_hash), role = coalesce(\(change.role?.rawValue), role),
                    display_name = coalesce(\(change.displayName), display_name),
                    disabled_at = CASE WHEN \(change.disabled)::boolean IS NULL THEN disabled_at
                                       WHEN \(change.disabled)::boolean THEN coalesce(disabled_at, now()) END,
                    session_epoch = session_epoch + \(endsSessions ? 1 : 0), updated_at = now()
                WHERE id = \(userID) AND customer_id = \(customerID) RETURNING 1
                """, logger: context.logger)
            for try await _ in rows { return true }
            return false
        }
        guard found else { throw Self.notFound(userID) }
        return try await list(context, only: userID)
    }

    func delete(_ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let userID = try context.parameters.uuid("userID")
        let found = try await scope.audited(context, action: "user.delete", target: "user/\(userID)") { connection in
            let rows = try await connection.query("DELETE FROM users WHERE id = \(userID) AND customer_id = \(customerID) RETURNING 1",
                                                  logger: context.logger)
            for try await _ in rows { return true }
            return false
        }
        guard found else { throw Self.notFound(userID) }
        return Response(status: .noContent)
    }

    static func uniqueEmail(_ change: () async throws -> Void) async throws {
        do {
            try await change()
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw APIError.invalid("email", "is already the email of a user")
        }
    }

    static func notFound(_ id: UUID) -> APIError {
        APIError(.notFound, "not_found", "user \(id) does not exist")
    }
}
