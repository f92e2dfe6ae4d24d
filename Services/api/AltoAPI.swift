import AltoService
import ArgumentParser
import Logging

/// `alto-api`: the REST API for admins and agents. `alto-api migrate` applies the schema and exits.
@main
struct AltoAPI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alto-api",
        abstract: "Alto's REST API: agent uploads, tenants, targets and rules.",
        subcommands: [Serve.self, Migrate.self],
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
}
