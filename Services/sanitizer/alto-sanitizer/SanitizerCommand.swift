import AltoCentral
import AltoSanitizer
import ArgumentParser
import ServiceLifecycle

/// `alto-sanitizer`: reconciles the stub registry with what tier-2 holds and what the hosts hold.
@main
struct SanitizerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alto-sanitizer",
        abstract: "Have every target listed and checked on a schedule, merge what the agents report into findings, and drop expired staging."
    )

    func run() async throws {
        let settings = try ServiceSettings(serviceName: "alto-sanitizer", defaultPort: 9104)
        try await buildSanitizer(settings: settings).run()
    }
}
