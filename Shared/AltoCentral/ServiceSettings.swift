import AltoRuntime
import AltoStore
import Configuration

/// What a central Alto service reads from its environment beyond what every process reads (`RuntimeSettings`,
/// whose fields it shows as its own): the database and the audit trail's key. Each database default works on one
/// machine with `scripts/local-servers.sh up`; the audit key has none (`SecretSetting`).
///
/// | variable | default |
/// | --- | --- |
/// | `ALTO_POSTGRES_URL` | `postgres://alto_app:alto_app@127.0.0.1:55432/alto`: the services' login, under row-level security |
/// | `ALTO_POSTGRES_MIGRATION_URL` | none: the tables' owner, which `alto-api migrate` alone uses |
/// | `ALTO_AUDIT_KEY` | none (a development key with `ALTO_DEVELOPMENT=true`): the audit chain's HMAC key, the same for every service |
/// | `ALTO_AGENT_HEARTBEAT_SECONDS` | 60: how often agents are told to send a heartbeat; one silent for three of them is silent |
@dynamicMemberLookup
public struct ServiceSettings: Sendable {
    public var runtime: RuntimeSettings
    public var postgres: PostgresSettings
    /// The owner of the schema, which `alto-api migrate` runs as; the services use `postgres` only, and in a
    /// deployment are not given it.
    public var migrationPostgres: PostgresSettings?
    /// Appends to the tamper-evident audit trail.
    public var audit: AuditTrail
    /// The heartbeat interval the API asks agents for.
    public var agentHeartbeatSeconds: Int
    /// How long an agent may go without a heartbeat before it counts as silent: three intervals.
    public var agentSilentSeconds: Int { 3 * agentHeartbeatSeconds }

    public static let defaultPostgresURL = "postgres://alto_app:alto_app@127.0.0.1:55432/alto"

    public init(serviceName: String, defaultPort: Int, reader: ConfigReader = RuntimeSettings.environment()) throws {
        runtime = try RuntimeSettings(serviceName: serviceName, defaultPort: defaultPort, reader: reader)
        let serviceURL = reader.string(forKey: "alto.postgres.url", isSecret: true, default: Self.defaultPostgresURL)
        postgres = try PostgresSettings(
            url: serviceURL, maximumConnections: reader.int(forKey: "alto.postgres.max.connections", default: 10))
        let migrationURL = reader.string(forKey: "alto.postgres.migration.url", isSecret: true, default: "")
        migrationPostgres = migrationURL.isEmpty ? nil : try PostgresSettings(url: migrationURL, maximumConnections: 2)
        agentHeartbeatSeconds = max(5, reader.int(forKey: "alto.agent.heartbeat.seconds", default: 60))
        audit = AuditTrail(secret: try SecretSetting.value(reader, key: "alto.audit.key", variable: "ALTO_AUDIT_KEY",
                                                           developmentDefault: "alto-development-audit-key") ?? "")
    }

    public subscript<Value>(dynamicMember keyPath: KeyPath<RuntimeSettings, Value>) -> Value {
        runtime[keyPath: keyPath]
    }
}
