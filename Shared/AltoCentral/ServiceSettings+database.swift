import AltoStore
import Logging

extension ServiceSettings {
    /// Applies pending migrations as the schema's owner, then checks that the services' own login is held by
    /// row-level security; every central service calls this before it serves.
    public func prepareDatabase(logger: Logger) async throws {
        try await migrationPostgres.withConnection(logger: logger) { connection in
            try await Migrator().migrate(on: connection, logger: logger)
        }
        try await postgres.withConnection(logger: logger) { connection in
            try await DatabaseRole.requireRowLevelSecurity(on: connection, logger: logger)
        }
    }
}
