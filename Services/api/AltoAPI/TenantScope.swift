import AltoStore
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// Runs a request's database work as its tenant: in a transaction bound to the tenant the access middleware
/// resolved, so row-level security holds even where a query forgets its filter, and with every change written to
/// the tenant's audit trail in the same transaction.
struct TenantScope: Sendable {
    let postgres: PostgresClient
    let auditTrail: AuditTrail

    /// Reads (or writes nothing worth auditing) as the request's tenant.
    func run<Result>(_ context: AltoRequestContext, isolation: isolated (any Actor)? = #isolation,
                     _ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        try await postgres.withTenant(try context.tenant(), logger: context.logger, isolation: isolation, body)
    }

    /// Runs `body` as the request's tenant in a transaction that is always rolled back, so a what-if of a change
    /// sees the change, with every check the real one makes, and nothing of it is ever committed. A connection
    /// whose rollback fails is closed rather than given back to the pool with the change still open.
    func rehearse<Result>(_ context: AltoRequestContext, isolation: isolated (any Actor)? = #isolation,
                          _ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        let customerID = try context.tenant()
        let logger = context.logger
        return try await postgres.withConnection(isolation: isolation) { connection in
            func rollBack() async throws {
                do {
                    try await connection.query("ROLLBACK", logger: logger)
                } catch {
                    try? await connection.close()
                    throw error
                }
            }
            try await connection.query("START TRANSACTION ISOLATION LEVEL REPEATABLE READ", logger: logger)
            do {
                try await connection.bindTenant(customerID, logger: logger)
                let result = try await body(connection)
                try await rollBack()
                return result
            } catch {
                try? await rollBack()
                throw error
            }
        }
    }

    /// Runs a change as the request's tenant together with its audit record, so no change goes unrecorded.
    func audited<Result>(_ context: AltoRequestContext, action: String, target: String, details: [String: String?] = [:],
                         isolation: isolated (any Actor)? = #isolation,
                         _ change: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        let customerID = try context.tenant()
        let actor = try context.caller().auditName
        return try await postgres.withTenant(customerID, logger: context.logger, isolation: isolation) { connection in
            let result = try await change(connection)
            try await auditTrail.append([AuditRecord(actor: actor, action: action, target: target, details: details)],
                                        customerID: customerID, on: connection, logger: context.logger)
            return result
        }
    }

    /// A change at the provider's level (tenants themselves), recorded in the provider's trail.
    func auditedAcrossTenants<Result>(_ context: AltoRequestContext, action: String, target: String, details: [String: String?] = [:],
                                      isolation: isolated (any Actor)? = #isolation,
                                      _ change: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        let actor = try context.caller().auditName
        return try await postgres.acrossTenants(logger: context.logger, isolation: isolation) { connection in
            let result = try await change(connection)
            try await auditTrail.append([AuditRecord(actor: actor, action: action, target: target, details: details)],
                                        customerID: nil, on: connection, logger: context.logger)
            return result
        }
    }
}
