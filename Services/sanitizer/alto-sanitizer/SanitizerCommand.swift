import AltoCentral
import AltoSanitizer
import ArgumentParser
import ServiceLifecycle

/// `alto-sanitizer`: reconciles the stub registry with what tier-2 holds.
@main
struct SanitizerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alto-sanitizer",
        abstract: "Periodically check that every active stub's tier-2 copy exists, and drop expired staging."
    )

    func run() async throws {
        let settings = try ServiceSettings(serviceName: "alto-sanitizer", defaultPort: 9104)
        try await buildSanitizer(settings: settings).run()
    }
}
