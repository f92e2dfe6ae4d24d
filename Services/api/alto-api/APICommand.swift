import AltoAPI
import AltoCentral
import ArgumentParser
import ServiceLifecycle

/// `alto-api`: the REST API for admins and agents. `alto-api migrate` applies the schema and exits, `alto-api routes`
/// lists the routes it serves, and `alto-api audit verify` walks the audit trail's hash chains.
@main
struct APICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alto-api",
        abstract: "Alto's REST API: agent uploads, tenants, targets and rules.",
        subcommands: [Serve.self, Migrate.self, Routes.self, AuditCommand.self],
        defaultSubcommand: Serve.self
    )

    static func settings() throws -> ServiceSettings {
        try ServiceSettings(serviceName: "alto-api", defaultPort: 8080)
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the API until SIGTERM.")

        func run() async throws {
            try await buildAPI(settings: try APICommand.settings()).run()
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")

        func run() async throws {
            try await APICommands.migrate(settings: try APICommand.settings())
        }
    }

    struct Routes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every route the API serves, one `METHOD path` a line.")

        func run() async throws {
            for route in try await APICommands.routes(settings: try APICommand.settings()) { print(route) }
        }
    }
}
