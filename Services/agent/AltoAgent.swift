import AltoAMQP
import AltoModels
import AltoService
import AltoTiering
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

/// `alto-agent`: runs on a file server; scans it, tiers and recalls its files.
@main
struct AltoAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alto-agent",
        abstract: "Alto's file-server agent.",
        subcommands: [Run.self, Scan.self, Recall.self],
        defaultSubcommand: Run.self
    )

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Follow this host's queue and carry out its commands until SIGTERM.")

        func run() async throws {
            try await buildAgent(settings: try AgentSettings()).run()
        }
    }

    struct Scan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Scan a tree and upload it as one batch, or print the CSV.")

        @Argument(help: "The root folder to scan.") var root: String
        @Flag(help: "Print the CSV instead of uploading it.") var print = false

        func run() async throws {
            let startedAt = Date()
            var scanner = TreeScanner()
            var csv = ScanCSV.header
            scanner.scan(root: root, into: &csv)
            if print {
                Swift.print(csv, terminator: "")
                return
            }
            let settings = try AgentSettings()
            let (logger, _) = ServiceBootstrap.bootstrap(label: "alto-agent", level: settings.service.logLevel)
            let batchID = try await ScanUploader(settings: settings, logger: logger).upload(csv, scanID: UUID(), startedAt: startedAt)
            Swift.print("scanned \(scanner.files) files, \(scanner.bytes) bytes (\(scanner.unreadable) unreadable); batch \(batchID.uuidString.lowercased()) accepted")
        }
    }

    struct Recall: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Bring stubbed files back from tier-2, verified byte for byte.")

        @Argument(help: "Stubbed files to recall.") var paths: [String]

        func run() async throws {
            let outcomes = paths.map { StubRecall.recall(RecallJob.File(fileID: nil, filePath: $0)) }
            for outcome in outcomes {
                if outcome.outcome == .recalled {
                    Swift.print("recalled \(outcome.filePath) (\(outcome.size) bytes, \(outcome.hash ?? ""))")
                } else {
                    Swift.print("cannot recall \(outcome.filePath): \(outcome.reason ?? "")")
                }
            }
            let recalled = outcomes.filter { $0.outcome == .recalled }
            if !recalled.isEmpty, let settings = try? AgentSettings() {
                try await report(recalled, settings: settings)
            }
            if recalled.count < outcomes.count { throw ExitCode(1) }
        }

        /// Tells the actor, so the inventory and registry stop counting the files as stubs.
        private func report(_ files: [AgentResult.File], settings: AgentSettings) async throws {
            let (logger, _) = ServiceBootstrap.bootstrap(label: "alto-agent", level: settings.service.logLevel)
            let publisher = AMQPPublisher(configuration: settings.service.amqp, logger: logger)
            let envelope = Envelope(customerID: settings.customerID, hostID: settings.hostID,
                                    payload: AgentResult(jobID: nil, action: .recall, targetID: nil, files: files))
            try await publisher.publish(AMQPMessage(body: try envelope.encoded(), messageID: envelope.id.uuidString.lowercased()),
                                        routingKey: AMQPTopology.agentResults)
            await publisher.shutdown()
        }
    }
}
