import Foundation
import Logging
import PostgresNIO

/// Every tenant row is read and written inside a transaction bound to its tenant. Row-level security then shows
/// and accepts only that tenant's rows, so a query that forgets its `customer_id` filter still cannot reach
/// another tenant's data. The few transactions that must span tenants (a sweep that finds work, creating a tenant,
/// finding the user who logs in) say so with `acrossTenants`.
extension PostgresClient {
    /// Runs `body` in a transaction bound to `customerID`.
    public func withTenant<Result>(_ customerID: UUID, logger: Logger, isolation: isolated (any Actor)? = #isolation,
                                   _ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        try await withConnection(isolation: isolation) { connection in
            try await connection.withTenant(customerID, logger: logger, isolation: isolation, body)
        }
    }

    /// Runs `body` in a transaction that sees every tenant's rows.
    public func acrossTenants<Result>(logger: Logger, isolation: isolated (any Actor)? = #isolation,
                                      _ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        try await withConnection(isolation: isolation) { connection in
            try await connection.acrossTenants(logger: logger, isolation: isolation, body)
        }
    }

    /// `withTransaction`, except that what the closure throws comes out as it was thrown (see the connection's).
    public func transaction<Result>(logger: Logger, isolation: isolated (any Actor)? = #isolation,
                                    _ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        try await withConnection(isolation: isolation) { connection in
            try await connection.transaction(logger: logger, isolation: isolation, body)
        }
    }
}

extension PostgresConnection {
    /// Runs `body` in a transaction bound to `customerID`.
    public func withTenant<Result>(_ customerID: UUID, logger: Logger, isolation: isolated (any Actor)? = #isolation,
                                   _ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        try await transaction(logger: logger, isolation: isolation) { connection in
            try await connection.bindTenant(customerID, logger: logger)
            return try await body(connection)
        }
    }

    /// Runs `body` in a transaction that sees every tenant's rows.
    public func acrossTenants<Result>(logger: Logger, isolation: isolated (any Actor)? = #isolation,
                                      _ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        try await transaction(logger: logger, isolation: isolation) { connection in
            try await connection.bindAllTenants(logger: logger)
            return try await body(connection)
        }
    }

    /// `withTransaction`, except that what the closure throws comes out as it was thrown. PostgresNIO wraps it in a
    /// `PostgresTransactionError`; refusals and constraint violations must reach the caller as what they are.
    public func transaction<Result>(logger: Logger, isolation: isolated (any Actor)? = #isolation,
                                    _ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        do {
            return try await withTransaction(logger: logger, isolation: isolation, body)
        } catch let error as PostgresTransactionError {
            if let thrown = error.closureError { throw thrown }
            throw error
        }
    }

    /// Binds the open transaction to one tenant, until it ends.
    public func bindTenant(_ customerID: UUID, logger: Logger) async throws {
        try await query("SELECT set_config('alto.customer_id', \(customerID.uuidString), true), set_config('alto.tenant_scope', '', true)",
                        logger: logger)
    }

    /// Lets the open transaction see every tenant, until it ends.
    public func bindAllTenants(logger: Logger) async throws {
        try await query("SELECT set_config('alto.customer_id', '', true), set_config('alto.tenant_scope', 'all', true)", logger: logger)
    }
}
