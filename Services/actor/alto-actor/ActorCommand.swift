import AltoCentral
import AltoActor
import ArgumentParser
import ServiceLifecycle

/// `alto-actor`: dispatches tiering jobs to agents and records what they did.
@main
struct ActorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alto-actor",
        abstract: "Consume tiering.jobs and agent.results: route jobs to agent.<customer_id>.<host_id> and record outcomes."
    )

    func run() async throws {
        let settings = try ServiceSettings(serviceName: "alto-actor", defaultPort: 9103)
        try await buildActor(settings: settings).run()
    }
}
