import Foundation
import Logging
import PostgresNIO

/// Applies the versioned SQL files in `Migrations/` once each, in order, under an advisory lock, so services
/// starting together and the `migrate` command never collide and a second run changes nothing.
public struct Migrator: Sendable {
    public struct Migration: Sendable, Equatable {
        public var version: Int
        public var name: String
        public var sql: String
    }

    static let lockKey: Int64 = 0x616C_746F_6D69_67  // "altomig"

    public let migrations: [Migration]

    public init(migrations: [Migration] = Migrator.bundledMigrations) {
        self.migrations = migrations
    }

    /// The migrations shipped with this build, named `NNNN_name.sql`.
    public static var bundledMigrations: [Migration] {
        let folder = Bundle.module.bundleURL.appendingPathComponent("Migrations")
        let urls = (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? []
        return urls.filter { $0.pathExtension == "sql" }.compactMap { url -> Migration? in
            let file = url.deletingPathExtension().lastPathComponent
            guard let separator = file.firstIndex(of: "_"), let version = Int(file[..<separator]),
                  let sql = try? String(contentsOf: url, encoding: .utf8) else { return nil }
            return Migration(version: version, name: String(file[file.index(after: separator)...]), sql: sql)
        }.sorted { $0.version < $1.version }
    }

    /// Applies what is missing and returns the versions it applied (empty when the schema was current).
    @discardableResult
    public func migrate(on connection: PostgresConnection, logger: Logger) async throws -> [Int] {
        try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
        do {
            let applied = try await apply(on: connection, logger: logger)
            try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            return applied
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            throw error
        }
    }

    private func apply(on connection: PostgresConnection, logger: Logger) async throws -> [Int] {
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        var known: [Int: String] = [:]
        for try await (version, checksum) in try await connection.query(
            "SELECT version, checksum FROM schema_migrations", logger: logger
        ).decode((Int, String).self) {
            known[version] = checksum
        }
        if let newest = known.keys.max(), newest > (migrations.last?.version ?? 0) {
            throw StoreError(.migration, "the database is at schema version \(newest), newer than this build's \(migrations.last?.version ?? 0)")
        }
        var applied: [Int] = []
        for migration in migrations {
            if let checksum = known[migration.version] {
                guard checksum == Self.checksum(migration.sql) else {
                    throw StoreError(.migration, "migration \(migration.version)_\(migration.name) changed after it was applied")
                }
                continue
            }
            try await connection.withTransaction(logger: logger) { transaction in
                try await transaction.query("SELECT set_config('alto.tenant_scope', 'all', true)", logger: logger)
                for statement in SQLScript.statements(migration.sql) {
                    try await transaction.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await transaction.query("""
                    INSERT INTO schema_migrations (version, name, checksum)
                    VALUES (\(migration.version), \(migration.name), \(Self.checksum(migration.sql)))
                    """, logger: logger)
            }
            logger.info("applied migration", metadata: ["migration.version": "\(migration.version)", "migration.name": "\(migration.name)"])
            applied.append(migration.version)
        }
        return applied
    }

    /// The migrations of this build the database has not had yet, as any login that may read `schema_migrations`
    /// sees them: the services ask this and wait, they never migrate (`alto-api migrate` does, as the owner).
    public func pending(on connection: PostgresConnection, logger: Logger) async throws -> [Int] {
        var known: Set<Int> = []
        do {
            for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger).decode(Int.self) {
                known.insert(version)
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42P01" {
            return migrations.map(\.version)
        }
        return migrations.map(\.version).filter { !known.contains($0) }
    }

    /// FNV-1a over the file's bytes: enough to notice an edited migration, no cryptography needed.
    static func checksum(_ sql: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sql.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
