import AltoAMQP
import AltoCentral
import AltoModels
import AltoRuntime
import AltoStore
import Foundation
import Logging
import Prometheus

/// What `alto-api`'s commands beside `serve` (`buildAPI`) do, so the executable only reads its arguments.
public enum APICommands {
    /// Applies pending migrations as the schema's owner and checks the services' login, then returns.
    public static func migrate(settings: ServiceSettings) async throws {
        let (logger, _) = ServiceBootstrap.bootstrap(label: settings.serviceName, level: settings.logLevel)
        try await settings.migrate(logger: logger)
    }

    /// Every route the API serves, as `METHOD path`, sorted; the router is built but nothing is connected.
    public static func routes(settings: ServiceSettings) async throws -> [String] {
        var logger = Logger(label: settings.serviceName)
        logger.logLevel = .error
        let router = try await makeRouter(settings: settings, postgres: settings.postgres.makeClient(logger: logger),
                                          publisher: AMQPPublisher(configuration: settings.amqp, logger: logger), keys: nil,
                                          registry: PrometheusCollectorRegistry(), hub: NotificationHub(), logger: logger)
        return router.routes.map { "\($0.method.rawValue) \($0.path)" }.sorted()
    }

    /// Walks the hash chains (one tenant's, or all of them) with the chain's key and returns what it found.
    public static func verifyAudit(settings: ServiceSettings, customerID: UUID?) async throws -> AuditVerification {
        let logger = Logger(label: settings.serviceName)
        return try await settings.postgres.withConnection(logger: logger) { connection in
            try await connection.acrossTenants(logger: logger) { connection in
                try await settings.audit.verify(customerID: customerID, allChains: customerID == nil, on: connection, logger: logger)
            }
        }
    }

    /// Writes the audit rows after `after` (one tenant's, or all) as JSON lines to standard output, or, given a
    /// collector, as RFC 5424 syslog messages to it.
    public static func exportAudit(settings: ServiceSettings, customerID: UUID?, after: Int64, syslog collector: String?) async throws {
        let logger = Logger(label: settings.serviceName)
        let rows = try await settings.postgres.withConnection(logger: logger) { connection in
            try await connection.acrossTenants(logger: logger) { connection in
                try await AuditRow.load(customerID: customerID, after: after, on: connection, logger: logger)
            }
        }
        guard let collector else {
            let encoder = AltoJSON.encoder()
            for row in rows { print(String(decoding: try encoder.encode(row), as: UTF8.self)) }
            return
        }
        let sender = try SyslogSender(url: collector)
        defer { sender.close() }
        for row in rows { try sender.send(row.syslogMessage()) }
        FileHandle.standardError.write(Data("sent \(rows.count) audit records; last id \(rows.last?.id ?? after)\n".utf8))
    }
}
