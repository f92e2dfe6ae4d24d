import AltoStore
import Configuration
import Foundation
import Logging

extension ServiceSettings {
    /// Applies pending migrations as the schema's owner (`ALTO_POSTGRES_MIGRATION_URL`), then checks that the
    /// services' own login is held by row-level security: `alto-api migrate`, a step of its own (a k8s Job, a
    /// one-shot compose service), so that no service holds the owner's credentials.
    public func migrate(logger: Logger) async throws {
        guard let migrationPostgres else {
            throw StoreError(.configuration, "migrating needs ALTO_POSTGRES_MIGRATION_URL, a login as the schema's owner")
        }
        try await migrationPostgres.withConnection(logger: logger) { connection in
            try await Migrator().migrate(on: connection, logger: logger)
        }
        try await postgres.withConnection(logger: logger) { connection in
            try await DatabaseRole.requireRowLevelSecurity(on: connection, logger: logger)
        }
    }

    /// What every central service does before it serves, with its own login only: checks that the login is held by
    /// row-level security, then waits (up to `ALTO_MIGRATION_WAIT_SECONDS`, 120) until the schema has every
    /// migration of this build, saying what it waits for; a schema newer than the build is fine, since migrations
    /// only add, which lets a rolling upgrade migrate first and replace the replicas after.
    public func prepareDatabase(logger: Logger) async throws {
        let wait = Duration.seconds(max(0, runtime.reader.int(forKey: "alto.migration.wait.seconds", default: 120)))
        let deadline = ContinuousClock.now + wait
        try await postgres.withConnection(logger: logger) { connection in
            try await DatabaseRole.requireRowLevelSecurity(on: connection, logger: logger)
        }
        var said = false
        while true {
            let pending = try await postgres.withConnection(logger: logger) { connection in
                try await Migrator().pending(on: connection, logger: logger)
            }
            if pending.isEmpty { return }
            guard ContinuousClock.now < deadline else {
                throw StoreError(.migration, """
                    the database lacks migrations \(pending.map(String.init).joined(separator: ", ")) of this build; \
                    run `alto-api migrate` with ALTO_POSTGRES_MIGRATION_URL (the schema's owner) first
                    """)
            }
            if !said {
                logger.warning("waiting for the database to be migrated (alto-api migrate)", metadata: ["pending": "\(pending)"])
                said = true
            }
            try await Task.sleep(for: .seconds(2))
        }
    }
}
