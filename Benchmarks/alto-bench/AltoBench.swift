import ArgumentParser
import Foundation

/// `alto-bench`: Alto's speed against the fastest tools that do the same work, both timed in the same run on the
/// same data, since these machines are too noisy for absolute figures to mean much alone.
@main
struct AltoBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alto-bench",
        abstract: "Benchmarks that print Alto's figures beside a baseline's, and their ratio.",
        subcommands: [Scan.self, Ingest.self, Plan.self, Scale.self, Tier.self, Recall.self, Sanitize.self, Analytics.self]
    )

    /// The servers of `scripts/local-servers.sh`, as its `env` names them (the schema owner's login, since each
    /// benchmark makes and migrates a database of its own), with its defaults.
    static var postgresURL: String {
        ProcessInfo.processInfo.environment["ALTO_POSTGRES_MIGRATION_URL"] ?? "postgres://alto:alto@127.0.0.1:55432/alto"
    }
    static var amqpURL: String { ProcessInfo.processInfo.environment["ALTO_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:55672/%2f" }
    static var rabbitmqctl: String? { ProcessInfo.processInfo.environment["ALTO_RABBITMQCTL"] }

    /// The folder of this executable, where the release build put the services too.
    static var binaries: String {
        ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .split(separator: "/").dropLast().joined(separator: "/").prepending("/")
    }

    struct Scan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "alto-agent scan against find -printf on a generated tree.")

        @Option(help: "Files in the generated tree.") var files = 500_000
        @Option(help: "Where the tree is generated (kept for the next run).") var tree: String?
        @Option(help: "Rounds; the best of each side is reported.") var rounds = 3

        func run() async throws {
            try ScanBenchmark(tree: tree ?? "/var/tmp/alto-bench-tree-\(files)", files: files, rounds: rounds,
                              binaries: AltoBench.binaries).run()
        }
    }

    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload → staging → inventory against psql \\copy + INSERT … ON CONFLICT.",
            discussion: "Needs the PostgreSQL and RabbitMQ of scripts/local-servers.sh (ALTO_POSTGRES_MIGRATION_URL, ALTO_POSTGRES_URL, ALTO_AMQP_URL).")

        @Option(help: "Rows to ingest.") var rows = 1_000_000
        @Option(help: "alto-ingest processes.") var ingestWorkers = 1
        @Option(help: "MiB of CSV per batch, as the agent's --batch-megabytes.") var batchMegabytes = 8
        @Flag(help: "Keep the services' logs (at info level) and the generated data.") var keepWork = false

        func run() async throws {
            try await IngestBenchmark(
                rows: rows, ingestWorkers: max(1, ingestWorkers), batchMegabytes: max(1, batchMegabytes), binaries: AltoBench.binaries,
                postgresURL: AltoBench.postgresURL,
                amqpURL: AltoBench.amqpURL,
                rabbitmqctl: AltoBench.rabbitmqctl, keepWork: keepWork
            ).run()
        }
    }
}

extension AltoBench {
    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rule evaluation in memory, then a full plan by alto-planner against psql reading the same rows.",
            discussion: "The full plan needs the PostgreSQL and RabbitMQ of scripts/local-servers.sh (ALTO_POSTGRES_URL, ALTO_AMQP_URL).")

        @Option(help: "Files in the generated inventory.") var files = 1_000_000
        @Option(help: "Rounds of the in-memory evaluation; the best is reported.") var rounds = 3
        @Option(help: "Full plans, each beside its own floor; the median is reported.") var planRounds = 3
        @Flag(help: "Only the in-memory evaluation, no servers needed.") var inMemoryOnly = false
        @Flag(help: "Keep the services' logs (at info level) and the generated data.") var keepWork = false

        func run() async throws {
            try PlanBenchmark(files: files, rounds: rounds).run()
            guard !inMemoryOnly else { return }
            try await FullPlanBenchmark(
                files: files,
                rounds: planRounds,
                postgresURL: AltoBench.postgresURL,
                amqpURL: AltoBench.amqpURL,
                rabbitmqctl: AltoBench.rabbitmqctl, keepWork: keepWork
            ).run()
        }
    }
}

extension AltoBench {
    struct Tier: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tiering to a filesystem target against tee >(openssl dgst -sha256) and cp, each with sync.")

        @Option(help: "Large files.") var largeFiles = 8
        @Option(help: "MiB per large file.") var largeMegabytes = 256
        @Option(help: "Small files.") var smallFiles = 20_000
        @Option(help: "KiB per small file.") var smallKilobytes = 32
        @Option(help: "Files tiered at once, as the agent's ALTO_AGENT_PARALLEL_FILES.") var parallel = 4
        @Option(help: "Where the data is generated (removed afterwards).") var work = "/var/tmp/alto-bench-tier"

        func run() async throws {
            try await TierBenchmark(work: work, largeFiles: largeFiles, largeBytes: largeMegabytes << 20, smallFiles: smallFiles,
                                    smallBytes: smallKilobytes << 10, parallel: max(1, parallel)).run()
        }
    }

    struct Recall: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "On-access recall latency: open()+read() of a 1 MiB stub to its first byte, through alto-agent and its guard.",
            discussion: "Needs root (a bind mount and fanotify) and the servers of scripts/local-servers.sh (ALTO_POSTGRES_URL, ALTO_AMQP_URL).")

        @Option(help: "Stubs read, one after another.") var files = 100
        @Option(help: "Where the data is generated (removed afterwards).") var work = "/var/tmp/alto-bench-recall"

        func run() async throws {
            try await RecallBenchmark(work: work, files: files, postgresURL: AltoBench.postgresURL, amqpURL: AltoBench.amqpURL,
                                      rabbitmqctl: AltoBench.rabbitmqctl).run()
        }
    }
}

extension AltoBench {
    struct Sanitize: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A reconciliation run over a folder target against find -printf, and an S3 listing against boto3's.",
            discussion: "Needs the PostgreSQL and RabbitMQ of scripts/local-servers.sh (ALTO_POSTGRES_URL, ALTO_AMQP_URL, ALTO_BROKER_MANAGEMENT_URL, which the API issues the agent its broker account with) and moto.")

        @Option(help: "Copies on the folder target, each with its registry row.") var objects = 1_000_000
        @Option(help: "Keys in the moto bucket (0 skips it).") var bucketObjects = 20_000
        @Option(help: "Where the folder target is generated (kept for the next run).") var tree: String?
        @Flag(help: "Keep the services' logs (at info level).") var keepWork = false

        func run() async throws {
            try await SanitizeBenchmark(
                objects: max(SanitizeBenchmark.planted * 2, objects), bucketObjects: max(0, bucketObjects),
                tree: tree ?? "/var/tmp/alto-bench-tier2-\(objects)",
                postgresURL: AltoBench.postgresURL,
                amqpURL: AltoBench.amqpURL,
                rabbitmqctl: AltoBench.rabbitmqctl, keepWork: keepWork
            ).run()
        }
    }
}

extension AltoBench {
    struct Analytics: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The overview's inventory distributions of a generated host through alto-api against psql counting its rows.",
            discussion: "Needs the PostgreSQL and RabbitMQ of scripts/local-servers.sh (ALTO_POSTGRES_MIGRATION_URL, ALTO_AMQP_URL).")

        @Option(help: "Files of the generated host.") var files = 10_000_000
        @Option(help: "Rounds; the best of each side is reported.") var rounds = 3
        @Flag(help: "Keep the services' logs (at info level).") var keepWork = false

        func run() async throws {
            try await AnalyticsBenchmark(
                files: files, rounds: max(1, rounds),
                postgresURL: AltoBench.postgresURL,
                amqpURL: AltoBench.amqpURL,
                rabbitmqctl: AltoBench.rabbitmqctl, keepWork: keepWork
            ).run()
        }
    }
}

extension AltoBench {
    struct Scale: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ingest, planner and actor throughput with one, two (and three) processes of the stage, in one run.",
            discussion: "Needs the PostgreSQL and RabbitMQ of scripts/local-servers.sh (ALTO_POSTGRES_MIGRATION_URL, ALTO_AMQP_URL).")

        @Option(help: "Hosts working at once.") var hosts = 3
        @Option(help: "Rows of each host's first scan.") var ingestRows = 200_000
        @Option(help: "Files of each host's full plan.") var planFiles = 300_000
        @Option(help: "Files of each host whose plan makes the actors' backlog, one job per planned file.") var dispatchFiles = 4_000
        @Flag(help: "Keep the services' logs (at info level) and the generated data.") var keepWork = false

        func run() async throws {
            try await ScaleBenchmark(
                hosts: max(1, hosts), ingestRowsPerHost: max(1, ingestRows), planFilesPerHost: max(1, planFiles),
                dispatchFilesPerHost: max(1, dispatchFiles),
                postgresURL: AltoBench.postgresURL,
                amqpURL: AltoBench.amqpURL,
                rabbitmqctl: AltoBench.rabbitmqctl, keepWork: keepWork
            ).run()
        }
    }
}

extension String {
    fileprivate func prepending(_ prefix: String) -> String { prefix + self }
}
