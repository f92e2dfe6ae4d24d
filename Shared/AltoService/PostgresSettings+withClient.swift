import AltoStore
import Logging
import PostgresNIO

extension PostgresSettings {
    /// Runs `body` with a running client and shuts the client down afterwards; for commands and start-up steps
    /// that need the database before the service group runs.
    @discardableResult
    public func withClient<Result: Sendable>(logger: Logger, _ body: @Sendable (PostgresClient) async throws -> Result) async throws -> Result {
        let client = makeClient(logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }
}

extension ServiceSettings {
    /// Applies pending migrations as the schema's owner, then checks that the services' own login is held by
    /// row-level security; every service calls this before it serves.
    public func prepareDatabase(logger: Logger) async throws {
        try await migrationPostgres.withClient(logger: logger) { client in
            try await Migrator().migrate(client: client, logger: logger)
        }
        try await postgres.withClient(logger: logger) { client in
            try await DatabaseRole.requireRowLevelSecurity(client: client, logger: logger)
        }
    }
}
