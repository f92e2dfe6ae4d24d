import AltoCentral
import AltoIngest
import ArgumentParser
import ServiceLifecycle

/// `alto-ingest`: loads staged scan batches into the inventory.
@main
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alto-ingest",
        abstract: "Consume ingest.jobs: COPY staged batches into scan_staging and upsert file_inventory."
    )

    func run() async throws {
        let settings = try ServiceSettings(serviceName: "alto-ingest", defaultPort: 9101)
        try await buildIngest(settings: settings).run()
    }
}
