import AltoModels
import AltoService
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// The admin routes for tenants, hosts (with their agent token) and a report of what was tiered. Guarded by the
/// bootstrap admin token until users and roles exist.
struct AdminController: Sendable {
    let scope: TenantScope
    var postgres: PostgresClient { scope.postgres }
    var logger: Logger { scope.logger }

    func add(to router: Router<BasicRequestContext>) {
        let customers = router.group("/api/v1/customers")
        customers.post { request, context in try await createCustomer(request, context) }
        customers.post(":customerID/hosts") { request, context in try await createHost(request, context) }
        customers.get(":customerID/report") { request, context in try await report(request, context) }
    }

    struct NewCustomer: Codable { var name: String }
    struct Created: Encodable {
        var id: UUID
        var agentToken: String?
        enum CodingKeys: String, CodingKey {
            case id
            case agentToken = "agent_token"
        }
    }

    struct NewHost: Codable {
        var hostname: String
        var os: String?
    }

    func createCustomer(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try scope.authorize(request)
        let body = try await request.decodeJSON(NewCustomer.self)
        guard !body.name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw APIError.badRequest("invalid_body", "name must not be empty")
        }
        let id = UUID()
        try await mutate(customerID: nil, action: "customer.create", target: "customer/\(id)") { connection in
            try await connection.query("INSERT INTO customers (id, name) VALUES (\(id), \(body.name))", logger: logger)
        }
        return try JSONResponse.make(status: .created, Created(id: id))
    }

    func createHost(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try scope.authorize(request)
        let customerID = try context.parameters.uuid("customerID")
        let body = try await request.decodeJSON(NewHost.self)
        let id = UUID()
        let token = AgentToken.generate()
        let digest = ByteBuffer(bytes: AgentToken.digest(token))
        try await scope.requireCustomer(customerID)
        try await mutate(customerID: customerID, action: "host.enroll", target: "host/\(id)") { connection in
            try await connection.query("""
                INSERT INTO hosts (id, customer_id, hostname, os, agent_token_hash)
                VALUES (\(id), \(customerID), \(body.hostname), \(body.os ?? "linux"), \(digest))
                """, logger: logger)
        }
        return try JSONResponse.make(status: .created, Created(id: id, agentToken: token))
    }

    func report(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try scope.authorize(request)
        let customerID = try context.parameters.uuid("customerID")
        try await scope.requireCustomer(customerID)
        return try JSONResponse.make(status: .ok, try await TieringReport.load(customerID: customerID, postgres: postgres, logger: logger))
    }

    /// Runs a change and its audit row in one transaction; a uniqueness clash is a 409.
    private func mutate(customerID: UUID?, action: String, target: String,
                        _ change: (PostgresConnection) async throws -> Void) async throws {
        do {
            try await scope.audited(customerID: customerID, action: action, target: target, change)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw APIError(.conflict, "conflict", "\(target.split(separator: "/").first ?? "object") with that name already exists")
        }
    }
}
