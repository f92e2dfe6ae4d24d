import AltoCentral
import AltoPlanner
import ArgumentParser
import ServiceLifecycle

/// `alto-planner`: turns a host's inventory and its tenant's rules into tiering jobs.
@main
struct PlannerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alto-planner",
        abstract: "Consume planner.jobs: evaluate rules and publish tiering jobs."
    )

    func run() async throws {
        let settings = try ServiceSettings(serviceName: "alto-planner", defaultPort: 9102)
        try await buildPlanner(settings: settings).run()
    }
}
