@testable import AltoAPI
import AltoAMQP
import AltoCentral
import AltoIngest
import AltoKeys
import AltoRuntime
import AltoTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import Logging
import Prometheus

/// The API's router in the test's own process, sent requests without a socket (HummingbirdTesting's `.router`),
/// over a real PostgreSQL and RabbitMQ of the test's own, with its outbox relay and an ingest service beside it
/// so uploads are ingested as in production.
enum InProcessAPI {
    /// A router test client seen as an `APIClient`.
    struct Client: APIClient {
        let client: any TestClientProtocol

        func request(_ method: String, _ path: String, body: Data?, headers: [String: String]) async throws -> (Int, String) {
            var fields = HTTPFields()
            for (name, value) in headers {
                guard let name = HTTPField.Name(name) else { throw TestFailure("bad header name \(name)") }
                fields[name] = value
            }
            let response = try await client.execute(uri: path, method: HTTPRequest.Method(rawValue: method) ?? .get, headers: fields,
                                                     body: body.map { ByteBuffer(bytes: $0) })
            return (Int(response.status.code), String(buffer: response.body))
        }
    }

    /// Runs `body` against the router; the database, vhost and services are gone afterwards.
    static func run(_ body: @Sendable (Client, TestBackends) async throws -> Void) async throws {
        let backends = try await TestBackends.make("router")
        do {
            try await run(on: backends, body)
        } catch {
            await backends.release()
            throw error
        }
        await backends.release()
    }

    private static func run(on backends: TestBackends, _ body: @Sendable (Client, TestBackends) async throws -> Void) async throws {
        let variables = ProcessInfo.processInfo.environment.merging(backends.environment) { _, new in new }
            .merging(["ALTO_LOG_LEVEL": "warning", "ALTO_HTTP_PORT": "0"]) { _, new in new }
        let settings = try ServiceSettings(serviceName: "alto-api", defaultPort: 0, reader: RuntimeSettings.environment(variables))
        var logger = Logger(label: "alto-api")
        logger.logLevel = .warning
        try await settings.migrate(logger: logger)
        let postgres = settings.postgres.makeClient(logger: logger)
        let publisher = AMQPPublisher(configuration: settings.amqp, logger: logger)
        let router = try await makeRouter(settings: settings, postgres: postgres, publisher: publisher,
                                          keys: try KeyProviders.make(environment: variables), registry: PrometheusCollectorRegistry(),
                                          hub: NotificationHub(), logger: logger)
        let ingest = try await buildIngest(settings: try ServiceSettings(serviceName: "alto-ingest", defaultPort: 0,
                                                                         reader: RuntimeSettings.environment(variables)))
        let app = Application(router: router, services: [postgres, publisher, OutboxRelay(client: postgres, publisher: publisher, logger: logger),
                                                         ingest],
                              logger: logger)
        try await app.test(.router) { client in try await body(Client(client: client), backends) }
    }
}
