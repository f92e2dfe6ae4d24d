import AltoAMQP
import AltoService
import ArgumentParser
import Hummingbird
import Logging
import Prometheus

/// `alto-api`: the REST API for admins and agents. `alto-api migrate` applies the schema and exits, `alto-api routes`
/// lists the routes it serves, and `alto-api audit verify` walks the audit trail's hash chains.
@main
struct AltoAPI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alto-api",
        abstract: "Alto's REST API: agent uploads, tenants, targets and rules.",
        subcommands: [Serve.self, Migrate.self, Routes.self, Audit.self],
        defaultSubcommand: Serve.self
    )

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the API until SIGTERM.")

        func run() async throws {
            let settings = try ServiceSettings(serviceName: "alto-api", defaultPort: 8080)
            try await buildAPI(settings: settings).run()
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")

        func run() async throws {
            let settings = try ServiceSettings(serviceName: "alto-api", defaultPort: 8080)
            let (logger, _) = ServiceBootstrap.bootstrap(label: "alto-api", level: settings.logLevel)
            try await settings.prepareDatabase(logger: logger)
        }
    }

    struct Routes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every route the API serves, one `METHOD path` a line.")

        func run() async throws {
            let settings = try ServiceSettings(serviceName: "alto-api", defaultPort: 8080)
            var logger = Logger(label: "alto-api")
            logger.logLevel = .error
            let router = try await makeRouter(settings: settings, postgres: settings.postgres.makeClient(logger: logger),
                                          publisher: AMQPPublisher(configuration: settings.amqp, logger: logger),
                                          registry: PrometheusCollectorRegistry(), hub: NotificationHub(), logger: logger)
            for route in router.routes.map({ "\($0.method.rawValue) \($0.path)" }).sorted() { print(route) }
        }
    }
}
