import AltoAMQP
import AltoStore
import Configuration
import Logging

/// What every Alto service reads from its environment; each default works on one machine with
/// `scripts/local-servers.sh up`.
///
/// | variable | default |
/// | --- | --- |
/// | `ALTO_POSTGRES_URL` | `postgres://alto_app:alto_app@127.0.0.1:55432/alto`: the services' login, under row-level security |
/// | `ALTO_POSTGRES_MIGRATION_URL` | `ALTO_POSTGRES_URL`: the tables' owner, which applies the migrations |
/// | `ALTO_AMQP_URL` | `amqp://guest:guest@127.0.0.1:55672/%2f` |
/// | `ALTO_HTTP_HOST`, `ALTO_HTTP_PORT` | `127.0.0.1`, the service's own port |
/// | `ALTO_LOG_LEVEL` | `info` |
/// | `ALTO_AUDIT_KEY` | a development key: the audit chain's HMAC key, the same for every service |
public struct ServiceSettings: Sendable {
    public var serviceName: String
    public var postgres: PostgresSettings
    /// The owner of the schema: migrations run as it, everything else as `postgres`.
    public var migrationPostgres: PostgresSettings
    public var amqp: AMQPConfiguration
    public var httpHost: String
    public var httpPort: Int
    public var logLevel: Logger.Level
    /// Appends to the tamper-evident audit trail.
    public var audit: AuditTrail
    /// The reader the settings came from, for each service's own keys.
    public let reader: ConfigReader

    public static let defaultPostgresURL = "postgres://alto_app:alto_app@127.0.0.1:55432/alto"
    public static let defaultAMQPURL = "amqp://guest:guest@127.0.0.1:55672/%2f"

    public init(serviceName: String, defaultPort: Int,
                reader: ConfigReader = ConfigReader(provider: EnvironmentVariablesProvider(
                    secretsSpecifier: .specific(["ALTO_POSTGRES_URL", "ALTO_POSTGRES_MIGRATION_URL", "ALTO_AMQP_URL",
                                                 "ALTO_AGENT_TOKEN", "ALTO_ADMIN_TOKEN", "ALTO_SESSION_KEY",
                                                 "ALTO_AUDIT_KEY", "ALTO_MASTER_KEY", "ALTO_VAULT_TOKEN"])))) throws {
        self.serviceName = serviceName
        self.reader = reader
        let serviceURL = reader.string(forKey: "alto.postgres.url", isSecret: true, default: Self.defaultPostgresURL)
        self.postgres = try PostgresSettings(
            url: serviceURL, maximumConnections: reader.int(forKey: "alto.postgres.max.connections", default: 10))
        self.migrationPostgres = try PostgresSettings(
            url: reader.string(forKey: "alto.postgres.migration.url", isSecret: true, default: serviceURL), maximumConnections: 2)
        self.amqp = try AMQPConfiguration(url: reader.string(forKey: "alto.amqp.url", isSecret: true, default: Self.defaultAMQPURL))
        self.httpHost = reader.string(forKey: "alto.http.host", default: "127.0.0.1")
        self.httpPort = reader.int(forKey: "alto.http.port", default: defaultPort)
        self.logLevel = Logger.Level(rawValue: reader.string(forKey: "alto.log.level", default: "info")) ?? .info
        self.audit = AuditTrail(secret: reader.string(forKey: "alto.audit.key", isSecret: true, default: "alto-development-audit-key"))
    }
}
