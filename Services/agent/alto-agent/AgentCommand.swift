import AltoAgent
import AltoModels
import ArgumentParser
import Foundation

/// `alto-agent`: runs on a file server; scans it, tiers and recalls its files.
@main
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alto-agent",
        abstract: "Alto's file-server agent.",
        subcommands: [Run.self, Scan.self, Upload.self, Recall.self, Restore.self, Guard.self],
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
                try AgentCommands.scanLocally(options, into: output, printing: print)
            } else if try await !AgentCommands.scanAndUpload(options, settings: try AgentSettings()) {
                throw ExitCode(1)
            }
        }
    }

    struct Upload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Upload the batches still in the spool.")

        func run() async throws {
            guard await AgentCommands.upload(settings: try AgentSettings()) else { throw ExitCode(1) }
        }
    }

    struct Recall: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring stubbed files back from tier-2, verified byte for byte.",
            discussion: "A folder stands for every stub below it. Each recall is reported so the inventory follows.")

        @Argument(help: "Stubs, or folders whose stubs to recall.") var paths: [String]

        func run() async throws {
            guard try await AgentCommands.recall(paths) else { throw ExitCode(1) }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild files under a folder from a tier-2 target and the tenant's key alone.",
            discussion: """
                For the day the database and the stubs are gone. Every copy on the target describes itself (its \
                host, path, size, times, permissions, owner, hash and wrapped data key); each selected copy is \
                opened with the tenant's key (ALTO_KEY_PROVIDER as for `run`), checked against its description \
                and written below FOLDER at its original path, byte for byte. Name the target by its id when this \
                host's state folder still knows it, or by its location with --setting for its settings and \
                ALTO_TARGET_<SETTING> (ALTO_TARGET_SECRET_ACCESS_KEY, ALTO_TARGET_PASSWORD, ...) for its credentials.
                """)

        @Argument(help: "The folder to restore into; it must exist.") var folder: String
        @Option(help: "The target's id, as this host's state folder knows it.") var target: String?
        @Option(help: "The target's location (/folder, //server/share, s3://bucket, https://account.blob.core.windows.net/container).")
        var location: String?
        @Option(name: .customLong("setting"), help: "A setting of the target, name=value (endpoint=..., username=...).")
        var settings: [String] = []
        @Option(help: "Only this host's files.") var host: String?
        @Option(help: "Only files at or below this path on their host.") var pathPrefix: String?
        @Option(help: "Copies restored at once.") var parallel: Int = 4
        @Flag(help: "Also restore copies whose descriptions are in the clear (a target written without a key provider), which nothing vouches for; they get neither their owner nor set-ID bits.")
        var trustUnsealed = false

        func run() async throws {
            let source: AgentCommands.RestoreSource
            switch (target, location) {
            case (let id?, nil):
                guard let id = UUID(uuidString: id) else { throw ValidationError("--target must be a target's id") }
                source = .catalog(id)
            case (nil, let location?):
                var parsed: [String: String] = [:]
                for setting in settings {
                    let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2 else { throw ValidationError("--setting takes name=value, not \(setting)") }
                    parsed[parts[0]] = parts[1]
                }
                source = .location(location, settings: parsed)
            default:
                throw ValidationError("name the target with --target or with --location, one of them")
            }
            let hostID = try host.map { text in
                guard let id = UUID(uuidString: text) else { throw ValidationError("--host must be a host's id") }
                return id
            }
            guard parallel > 0 else { throw ValidationError("--parallel must be positive") }
            guard try await AgentCommands.restore(into: folder, from: source, hostID: hostID, pathPrefix: pathPrefix,
                                                  parallel: parallel, trustsUnsealed: trustUnsealed) else { throw ExitCode(1) }
        }
    }

    struct Guard: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Own the fanotify watch on the managed roots and hand reads of stubs to the agent.",
            discussion: """
                Runs until SIGTERM. Started by its own systemd unit before the file-sharing services, or by \
                `alto-agent run` when none is running. It holds the watch and runs the guard proper as a child it \
                restarts; while no agent is connected, a read of a stub waits ALTO_AGENT_RECALL_WAIT_SECONDS for one \
                and then fails with EIO; it never returns the stub's hole as zeros.
                """)

        @Flag(help: .hidden) var worker = false

        func run() throws {
            if worker {
                try AgentCommands.guardWorker(settings: try AgentSettings())
            } else {
                try AgentCommands.guardStubs(settings: try AgentSettings())
            }
        }
    }
}
