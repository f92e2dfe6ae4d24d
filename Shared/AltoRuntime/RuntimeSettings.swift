import AltoAMQP
import Configuration
import Foundation
import Logging

/// What every Alto process reads from its environment, the agent on a file server included: its name, the broker,
/// where it serves `/healthz` and `/metrics`, and how much it logs. Nothing here knows of PostgreSQL, so a setting
/// only the central services read can never stop an agent.
///
/// | variable | default |
/// | --- | --- |
/// | `ALTO_AMQP_URL` | `amqp://guest:guest@127.0.0.1:55672/%2f` |
/// | `ALTO_HTTP_HOST`, `ALTO_HTTP_PORT` | `127.0.0.1`, the service's own port (0: one the kernel picks) |
/// | `ALTO_HTTP_PORT_FILE` | unset; when set, the port the service listens on is written there once it listens |
/// | `ALTO_LOG_LEVEL` | `info` |
public struct RuntimeSettings: Sendable {
    public var serviceName: String
    public var amqp: AMQPConfiguration
    public var httpHost: String
    public var httpPort: Int
    /// Where to say which port the service got, for a supervisor (or a test) that started it on port 0.
    public var httpPortFile: String?
    public var logLevel: Logger.Level
    /// The reader the settings came from, for each service's own keys.
    public let reader: ConfigReader

    public static let defaultAMQPURL = "amqp://guest:guest@127.0.0.1:55672/%2f"

    /// The variables whose values never reach a log or an error message.
    public static let secretVariables = ["ALTO_POSTGRES_URL", "ALTO_POSTGRES_MIGRATION_URL", "ALTO_AMQP_URL", "ALTO_AGENT_TOKEN",
                                         "ALTO_ADMIN_TOKEN", "ALTO_SESSION_KEY", "ALTO_AUDIT_KEY", "ALTO_MASTER_KEY", "ALTO_VAULT_TOKEN"]

    /// `variables` (the process environment by default), with the secret ones marked as such.
    public static func environment(_ variables: [String: String] = ProcessInfo.processInfo.environment) -> ConfigReader {
        ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: variables, secretsSpecifier: .specific(Set(secretVariables))))
    }

    public init(serviceName: String, defaultPort: Int, reader: ConfigReader = RuntimeSettings.environment()) throws {
        self.serviceName = serviceName
        self.reader = reader
        self.amqp = try AMQPConfiguration(url: reader.string(forKey: "alto.amqp.url", isSecret: true, default: Self.defaultAMQPURL))
        self.httpHost = reader.string(forKey: "alto.http.host", default: "127.0.0.1")
        self.httpPort = reader.int(forKey: "alto.http.port", default: defaultPort)
        self.httpPortFile = reader.string(forKey: "alto.http.port.file")
        self.logLevel = Logger.Level(rawValue: reader.string(forKey: "alto.log.level", default: "info")) ?? .info
    }
}
