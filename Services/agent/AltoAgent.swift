import AltoAMQP
import AltoKeys
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
        subcommands: [Run.self, Scan.self, Upload.self, Recall.self, Guard.self],
        defaultSubcommand: Run.self
    )

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Follow this host's queue and carry out its commands until SIGTERM.")

        func run() async throws {
            try await buildAgent(settings: try AgentSettings()).run()
        }
    }

    struct Scan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Scan trees into compressed CSV batches and upload them.",
            discussion: """
                Batches go to the spool in ALTO_AGENT_STATE_DIR and are uploaded in order; a batch stays on disk \
                until the API acknowledged it, so an interrupted upload resumes with `alto-agent upload`.
                """)

        @Argument(help: "The root folders to scan.") var roots: [String]
        @Option(name: .customLong("exclude"), help: "Leave out entries named so (`.snapshot`) or matching a glob (`*.tmp`, `/srv/x/**`).")
        var exclusions: [String] = []
        @Option(help: "Which files to hash: none, changed (size or mtime differ from the previous scan) or all.")
        var hash: String = "none"
        @Option(help: "Batch compression: zstd, gzip or none.") var compression: String = "zstd"
        @Option(help: "Cut a new batch after this many MiB of CSV.") var batchMegabytes: Int = 8
        @Option(help: "Walker threads (default: one per core).") var threads: Int?
        @Flag(help: "Descend into other file systems mounted below a root.") var crossFileSystems = false
        @Flag(help: "Not a full scan: files it does not see are not retired from the inventory.") var partial = false
        @Option(help: "Write the batches into this folder and do not upload them.") var output: String?
        @Flag(help: "Print the CSV on standard output instead of uploading it.") var print = false

        func run() async throws {
            var options = ScanOptions(roots: roots)
            options.exclusions = ScanExclusions(patterns: exclusions)
            guard let hashMode = ScanOptions.HashMode(rawValue: hash) else {
                throw ValidationError("--hash must be none, changed or all")
            }
            options.hashMode = hashMode
            guard let format = IngestJob.Compression(rawValue: compression) else {
                throw ValidationError("--compression must be zstd, gzip or none")
            }
            options.compression = print ? .none : format
            guard batchMegabytes > 0 else { throw ValidationError("--batch-megabytes must be positive") }
            options.batchBytes = print ? Int.max : batchMegabytes << 20
            if let threads { options.threads = max(1, threads) }
            options.oneFileSystem = !crossFileSystems
            options.isFullScan = !partial

            if print || output != nil {
                let folder = output ?? FileManager.default.temporaryDirectory.path + "/alto-scan-\(UUID().uuidString)"
                let manifest = try ScanRunner(options: options, spoolFolder: folder, stateFolder: nil).run(progress: ScanProgress())
                let scanFolder = folder + "/" + manifest.scanID.uuidString.lowercased()
                if print {
                    for batch in manifest.batches {
                        FileHandle.standardOutput.write(try Data(contentsOf: URL(fileURLWithPath: scanFolder + "/" + batch.file)))
                    }
                    try? FileManager.default.removeItem(atPath: folder)
                } else {
                    Swift.print(report(manifest) + "; batches in \(scanFolder)")
                }
                return
            }
            let settings = try AgentSettings()
            let (logger, _) = ServiceBootstrap.bootstrap(label: "alto-agent", level: settings.service.logLevel)
            let manifest = try ScanRunner(options: options, spoolFolder: settings.spoolFolder, stateFolder: settings.stateFolder)
                .run(progress: ScanProgress())
            Swift.print(report(manifest))
            let outcome = await SpoolUploader(settings: settings, spoolFolder: settings.spoolFolder, logger: logger).uploadPending()
            guard outcome == .done else {
                Swift.print("upload incomplete; the remaining batches stay in the spool (`alto-agent upload` resumes)")
                throw ExitCode(1)
            }
            Swift.print("all batches accepted")
        }

        private func report(_ manifest: ScanManifest) -> String {
            let summary = manifest.summary
            let seconds = max(0.001, manifest.finishedAt.timeIntervalSince(manifest.startedAt))
            return "scanned \(summary.files) files, \(summary.bytes) bytes in \(summary.directories) directories in "
                + String(format: "%.2f s (%.0f files/s)", seconds, Double(summary.files) / seconds)
                + "; \(summary.unreadable) unreadable, \(summary.vanished) vanished, \(summary.excluded) excluded, "
                + "\(summary.otherFileSystems) other file systems skipped, \(summary.hashed) hashed; "
                + "\(manifest.batches.count) batches, scan \(manifest.scanID.uuidString.lowercased())"
                + summary.unreadableSamples.map { "\n  unreadable: \($0)" }.joined()
        }
    }

    struct Upload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Upload the batches still in the spool.")

        func run() async throws {
            let settings = try AgentSettings()
            let (logger, _) = ServiceBootstrap.bootstrap(label: "alto-agent", level: settings.service.logLevel)
            let outcome = await SpoolUploader(settings: settings, spoolFolder: settings.spoolFolder, logger: logger).uploadPending()
            if case .retryLater(let reason) = outcome {
                Swift.print("upload incomplete: \(reason)")
                throw ExitCode(1)
            }
        }
    }

    struct Recall: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring stubbed files back from tier-2, verified byte for byte.",
            discussion: "A folder stands for every stub below it. Each recall is reported so the inventory follows.")

        @Argument(help: "Stubs, or folders whose stubs to recall.") var paths: [String]

        func run() async throws {
            let settings = try? AgentSettings()
            let stateFolder = settings?.stateFolder
                ?? ProcessInfo.processInfo.environment["ALTO_AGENT_STATE_DIR"] ?? "/var/lib/alto-agent"
            let customerID = settings?.customerID ?? ProcessInfo.processInfo.environment["ALTO_CUSTOMER_ID"].flatMap(UUID.init(uuidString:))
            guard let customerID else { throw ValidationError("ALTO_CUSTOMER_ID must name the tenant whose stubs these are") }
            let catalog = TargetCatalog(folder: stateFolder, keys: try KeyProviders.make(), customerID: customerID)
            var outcomes: [AgentResult.File] = []
            for path in StubWalk.stubs(under: paths) {
                let outcome: Result<StubRecord, TieringError>
                do throws(TieringError) {
                    let record = try await StubRecall.recall(path: path, stores: catalog)
                    Swift.print("recalled \(path) (\(record.size) bytes, \(record.hash))")
                    outcome = .success(record)
                } catch {
                    Swift.print("cannot recall \(path): \(error.message)")
                    outcome = .failure(error)
                }
                outcomes.append(.recall(of: path, fileID: nil, outcome))
            }
            let recalled = outcomes.filter { $0.outcome == .recalled }
            if !recalled.isEmpty, let settings {
                let (logger, _) = ServiceBootstrap.bootstrap(label: "alto-agent", level: settings.service.logLevel)
                let publisher = AMQPPublisher(configuration: settings.service.amqp, logger: logger)
                let reporter = ResultReporter(publisher: publisher, customerID: settings.customerID, hostID: settings.hostID, logger: logger)
                await reporter.report(AgentResult(jobID: nil, action: .recall, targetID: nil, files: recalled))
                await publisher.shutdown()
            }
            if recalled.count < outcomes.count { throw ExitCode(1) }
        }
    }

    struct Guard: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Own the fanotify watch on the managed roots and hand reads of stubs to the agent.",
            discussion: """
                Runs until SIGTERM. Started by its own systemd unit before the file-sharing services, or by \
                `alto-agent run` when none is running. While no agent is connected, a read of a stub waits \
                ALTO_AGENT_RECALL_WAIT_SECONDS for one and then fails with EIO; it never returns the stub's hole as zeros.
                """)

        func run() throws {
            let settings = try AgentSettings()
            let (logger, _) = ServiceBootstrap.bootstrap(label: "alto-agent-guard", level: settings.service.logLevel)
            let roots = settings.managedRoots(AgentConfigurationStore(folder: settings.stateFolder))
            guard !roots.isEmpty else { throw AgentError("no managed roots: set ALTO_AGENT_SCAN_ROOTS") }
            try StubGuard(roots: roots, scanners: settings.scannerPrograms, previewPrograms: settings.previewPrograms, socketPath: settings.guardSocket,
                          waitSeconds: settings.recallWaitSeconds, logger: logger).run()
        }
    }
}
