import AltoRuntime
import PostgresNIO

extension OperationsRoutes {
    /// A check that PostgreSQL answers a trivial query.
    public static func postgresCheck(_ client: PostgresClient) -> (String, Check) {
        ("postgres", { try await client.query("SELECT 1") })
    }
}
