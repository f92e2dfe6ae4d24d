import Foundation

/// A PostgreSQL database and a RabbitMQ vhost of one test's own, a work folder, and the environment that points
/// Alto's services at them, so tests run side by side without seeing each other's rows or messages.
public struct TestBackends: Sendable {
    /// A short id of the test's own, for unique names.
    public let run: String
    public let work: URL
    /// The schema owner's URL for the test's database; the services log in with `environment`'s.
    public let databaseURL: String
    public let amqpURL: String
    public let vhost: String
    /// What a service needs: both database URLs, the vhost, its own keyring folder, a fast bcrypt cost.
    public let environment: [String: String]

    /// The secrets every test's services run with, made once per test process: no service accepts a known one.
    public static let adminToken = randomSecret()
    public static let sessionKey = randomSecret()
    public static let auditKey = randomSecret()

    private static func randomSecret() -> String {
        (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    /// Makes the database (empty: not migrated), the vhost and the work folder.

    public static func make(_ kind: String, environment extra: [String: String] = [:]) async throws -> TestBackends {
        let run = UUID().uuidString.prefix(8).lowercased()
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("alto-\(kind)-\(run)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let databaseURL = try await TestServers.freshDatabase(prefix: "alto_e2e")
        let vhost = "alto-\(kind)-\(run)"
        try await TestServers.rabbitmqctl("add_vhost", vhost)
        do {
            try await TestServers.rabbitmqctl("set_permissions", "-p", vhost, "guest", "'.*'", "'.*'", "'.*'")
            let amqpURL = TestServers.amqpURL.replacingOccurrences(of: "%2f", with: vhost)
            let environment = ["ALTO_POSTGRES_URL": try TestServers.serviceURL(for: databaseURL), "ALTO_POSTGRES_MIGRATION_URL": databaseURL,
                               "ALTO_AMQP_URL": amqpURL, "ALTO_LOG_LEVEL": "info", "ALTO_BCRYPT_COST": "4",
                               "ALTO_KEY_DIR": work.appendingPathComponent("keys").path, "ALTO_ADMIN_TOKEN": Self.adminToken,
                               "ALTO_SESSION_KEY": Self.sessionKey, "ALTO_AUDIT_KEY": Self.auditKey].merging(extra) { _, new in new }
            return TestBackends(run: String(run), work: work, databaseURL: databaseURL, amqpURL: amqpURL, vhost: vhost,
                                environment: environment)
        } catch {
            try? await TestServers.rabbitmqctl("delete_vhost", vhost)
            throw error
        }
    }

    /// Drops the vhost and the agents' broker accounts the API made in it (the database stays for a post-mortem;
    /// `scripts/test.sh` drops it on the next run).
    public func release() async {
        await TestServers.deleteAgentAccounts(of: vhost)
        try? await TestServers.rabbitmqctl("delete_vhost", vhost)
    }
}
