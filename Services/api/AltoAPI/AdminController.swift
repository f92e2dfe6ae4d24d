import AltoModels
import AltoRuntime
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// Tenants (the provider's super admins create them), host enrolment with its agent token, and a report of what
/// was tiered.
struct AdminController: Sendable {
    let scope: TenantScope

    func add(to router: Router<AltoRequestContext>) {
        let customers = router.group("/api/v1/customers")
        customers.post { request, context in try await createCustomer(request, context) }
        customers.get { _, context in try await listCustomers(context) }
        customers.post(":customerID/hosts") { request, context in try await createHost(request, context) }
        customers.get(":customerID/report") { _, context in
            try JSONResponse.make(status: .ok, try await scope.run(context) { connection in
                try await TieringReport.load(customerID: try context.tenant(), on: connection, logger: context.logger)
            })
        }
    }

    struct NewCustomer: Codable { var name: String }
    struct Customer: Codable {
        var id: UUID
        var name: String
        var createdAt: Date
        enum CodingKeys: String, CodingKey {
            case id, name
            case createdAt = "created_at"
        }
    }
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

    func createCustomer(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let body = try await request.decodeJSON(NewCustomer.self)
        guard !body.name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw APIError.invalid("name", "must not be empty")
        }
        let id = UUID()
        try await Self.conflictAsAPIError("customer") {
            try await scope.auditedAcrossTenants(context, action: "customer.create", target: "customer/\(id)", details: ["name": body.name]) { connection in
                _ = try await connection.query("INSERT INTO customers (id, name) VALUES (\(id), \(body.name))", logger: context.logger)
            }
        }
        return try JSONResponse.make(status: .created, Created(id: id))
    }

    func listCustomers(_ context: AltoRequestContext) async throws -> Response {
        struct List: Encodable { var customers: [Customer] }
        let customers = try await scope.postgres.acrossTenants(logger: context.logger) { connection in
            var customers: [Customer] = []
            for try await (id, name, created) in try await connection.query(
                "SELECT id, name, created_at FROM customers ORDER BY name", logger: context.logger).decode((UUID, String, Date).self) {
                customers.append(Customer(id: id, name: name, createdAt: created))
            }
            return customers
        }
        return try JSONResponse.make(status: .ok, List(customers: customers))
    }

    func createHost(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let body = try await request.decodeJSON(NewHost.self)
        guard !body.hostname.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw APIError.invalid("hostname", "must not be empty")
        }
        let id = UUID()
        let token = SecretToken.generate(prefix: SecretToken.agentPrefix)
        let digest = ByteBuffer(bytes: SecretToken.digest(token))
        try await Self.conflictAsAPIError("host") {
            try await scope.audited(context, action: "host.enroll", target: "host/\(id)", details: ["hostname": body.hostname]) { connection in
                _ = try await connection.query("""
                    INSERT INTO hosts (id, customer_id, hostname, os, agent_token_hash, agent_token_issued_at)
                    VALUES (\(id), \(customerID), \(body.hostname), \(body.os ?? "linux"), \(digest), now())
                    """, logger: context.logger)
            }
        }
        return try JSONResponse.make(status: .created, Created(id: id, agentToken: token))
    }

    /// A uniqueness clash is a 409 naming what clashed.
    static func conflictAsAPIError(_ object: String, _ change: () async throws -> Void) async throws {
        do {
            try await change()
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw APIError(.conflict, "conflict", "a \(object) with that name already exists")
        }
    }
}
