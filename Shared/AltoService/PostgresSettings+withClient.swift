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

    /// Applies pending migrations; every service calls this before it serves.
    public func migrate(logger: Logger) async throws {
        try await withClient(logger: logger) { client in
            try await Migrator().migrate(client: client, logger: logger)
        }
    }
}
