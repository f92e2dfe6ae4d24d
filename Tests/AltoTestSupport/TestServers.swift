import AltoStore
import Foundation
import FoundationNetworking
import Logging
import PostgresNIO

/// The real servers the integration and end-to-end tests use, found the way the services find them.
public enum TestServers {
    /// The schema owner's URL: it creates the tests' databases and migrates them.
    public static var postgresURL: String {
        ProcessInfo.processInfo.environment["ALTO_POSTGRES_MIGRATION_URL"] ?? "postgres://alto:alto@127.0.0.1:55432/alto"
    }

    /// The URL the services use for the same database as `databaseURL`: their own login, under row-level security.
    public static func serviceURL(for databaseURL: String) throws -> String {
        let service = try PostgresSettings(url: ProcessInfo.processInfo.environment["ALTO_POSTGRES_URL"]
                                               ?? "postgres://alto_app:alto_app@127.0.0.1:55432/alto")
        return service.database(try PostgresSettings(url: databaseURL).database).url
    }

    public static var amqpURL: String {
        ProcessInfo.processInfo.environment["ALTO_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:55672/%2f"
    }

    public static let logger: Logger = {
        var logger = Logger(label: "alto-tests")
        logger.logLevel = .warning
        return logger
    }()

    /// Creates an empty database for one test and returns its URL; each test gets its own, so tests run in parallel.
    public static func freshDatabase(prefix: String = "alto_test") async throws -> String {
        let name = "\(prefix)_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased())"
        let settings = try PostgresSettings(url: postgresURL)
        try await settings.database("postgres").withConnection(logger: logger) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        return settings.database(name).url
    }

    /// Runs `body` with a connection of its own to `url`, closed afterwards.
    public static func withPostgres<Result: Sendable>(_ url: String, _ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await PostgresSettings(url: url).withConnection(logger: logger, body)
    }

    /// The checkout's root, where the scripts and the built executables are.
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `rabbitmqctl` against the test broker: `ALTO_RABBITMQCTL` when set, else the local-servers script's.
    /// RabbitMQ's management API, as `scripts/local-servers.sh env` names it, with its administrator's login.
    public static var brokerManagementURL: String {
        ProcessInfo.processInfo.environment["ALTO_BROKER_MANAGEMENT_URL"] ?? "http://guest:guest@127.0.0.1:55674"
    }

    /// Deletes the `agent-*` accounts with permissions in `vhost`, so test runs leave no broker logins behind.
    public static func deleteAgentAccounts(of vhost: String) async {
        guard var components = URLComponents(string: brokerManagementURL), let user = components.user,
              let password = components.password else { return }
        components.user = nil
        components.password = nil
        let base = components.string ?? ""
        let authorization = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        let escaped = vhost.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? vhost
        func send(_ method: String, _ path: String) async -> Data? {
            var request = URLRequest(url: URL(string: base + path)!)
            request.httpMethod = method
            request.setValue(authorization, forHTTPHeaderField: "Authorization")
            return try? await URLSession.shared.data(for: request).0
        }
        guard let listing = await send("GET", "/api/vhosts/\(escaped)/permissions"),
              let permissions = try? JSONSerialization.jsonObject(with: listing) as? [[String: Any]] else { return }
        for case let name as String in permissions.compactMap({ $0["user"] }) where name.hasPrefix("agent-") {
            _ = await send("DELETE", "/api/users/\(name)")
        }
    }

    public static func rabbitmqctl(_ arguments: String...) async throws {
        let command = ProcessInfo.processInfo.environment["ALTO_RABBITMQCTL"]
            ?? "'\(packageRoot.path)/scripts/local-servers.sh' rabbitmqctl"
        let outcome = try await Command.run("sh", ["-c", ([command] + arguments).joined(separator: " ")], timeout: .seconds(120))
        guard outcome.status == 0 else {
            throw TestFailure("rabbitmqctl \(arguments.joined(separator: " ")) exited with \(outcome.status): \(outcome.errors)")
        }
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
