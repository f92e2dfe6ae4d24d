import Logging
import PostgresNIO

/// The services' database login must be held by row-level security: a superuser or a BYPASSRLS role would
/// silently see every tenant's rows, so a service configured with one refuses to start.
public enum DatabaseRole {
    public static func requireRowLevelSecurity(on connection: PostgresConnection, logger: Logger) async throws {
        let rows = try await connection.query("SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
                                          logger: logger)
        for try await (name, bypasses) in rows.decode((String, Bool).self) where bypasses {
            throw StoreError(.configuration, """
                ALTO_POSTGRES_URL logs in as \(name), which bypasses row-level security; the services need a login \
                that is a member of alto_service and neither a superuser nor BYPASSRLS (see scripts/postgres-roles.sql), \
                and the schema's owner belongs in ALTO_POSTGRES_MIGRATION_URL
                """)
        }
    }
}
