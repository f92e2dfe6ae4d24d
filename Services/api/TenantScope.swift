import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO

/// Who a tenant-scoped request acts for. Until users and roles exist, the bootstrap admin token is the credential
/// and the `X-Alto-Customer-Id` header names the tenant; every query of a tenant route is scoped by the answer.
struct TenantScope: Sendable {
    static let header = HTTPField.Name("X-Alto-Customer-Id")!

    let postgres: PostgresClient
    let adminToken: String
    let logger: Logger

    /// Checks the admin token (401) and returns the tenant the request names (400 without one, 404 when unknown).
    func customer(of request: Request) async throws -> UUID {
        try authorize(request)
        guard let text = request.headers[Self.header] else {
            throw APIError(.badRequest, "missing_tenant", "the X-Alto-Customer-Id header must name the customer", field: "X-Alto-Customer-Id")
        }
        guard let customerID = UUID(uuidString: text) else {
            throw APIError(.badRequest, "invalid_tenant", "X-Alto-Customer-Id must be a UUID", field: "X-Alto-Customer-Id")
        }
        try await requireCustomer(customerID)
        return customerID
    }

    func authorize(_ request: Request) throws {
        guard let token = request.bearerToken,
              token.utf8.count == adminToken.utf8.count,
              zip(token.utf8, adminToken.utf8).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0
        else { throw APIError.unauthorized }
    }

    func requireCustomer(_ customerID: UUID) async throws {
        var exists = false
        for try await _ in try await postgres.query("SELECT 1 FROM customers WHERE id = \(customerID)", logger: logger) {
            exists = true
        }
        guard exists else { throw APIError(.notFound, "not_found", "customer \(customerID) does not exist") }
    }

    /// Runs a change and its audit row in one transaction, so no change goes unrecorded.
    func audited<Result: Sendable>(customerID: UUID?, action: String, target: String, details: String = "{}",
                                   _ change: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await postgres.transaction(logger: logger) { connection in
            let result = try await change(connection)
            try await connection.query("""
                INSERT INTO audit_log (customer_id, actor, action, target, result, details)
                VALUES (\(customerID), 'admin', \(action), \(target), 'ok', \(details)::jsonb)
                """, logger: logger)
            return result
        }
    }
}
