import AltoModels
import Foundation

/// `alto-bench ingest`: a million generated rows through the real path (the agent uploads zstd batches to
/// alto-api, alto-ingest loads, normalizes and merges them and updates the host), timed until the last batch is
/// in the inventory; then an unchanged re-scan twice, listing every row again and as the listing of changes an
/// agent with its previous scan's index sends (no row, no deletion); and, in the same run, the expert's pipeline
/// (`psql \copy` into an unlogged table, one `INSERT … ON CONFLICT` into the same indexed inventory).
struct IngestBenchmark {
    let rows: Int
    let ingestWorkers: Int
    /// CSV per batch before compression, as the agent's `--batch-megabytes`.
    let batchMegabytes: Int
    let binaries: String
    let postgresURL: String
    let amqpURL: String
    let rabbitmqctl: String?
    /// Keeps the services' logs and the generated data in the work folder after the run.
    let keepWork: Bool

    func run() async throws {
        let environment = try BenchEnvironment(name: "ingest", postgresURL: postgresURL, amqpURL: amqpURL,
                                               rabbitmqctl: rabbitmqctl, keepWork: keepWork)
        defer { environment.close() }
        let work = environment.work
        let alto = environment.database
        let expert = try environment.extraDatabase("expert")
        let (api, apiPort) = try await environment.start("alto-api")
        var ingesters: [MeasuredProcess] = []
        for _ in 0..<ingestWorkers {
            ingesters.append(try await environment.start("alto-ingest").process)
        }
        let (customerID, hostID, token) = try await environment.enrol(apiPort: apiPort)

        print("generating \(rows) rows…")
        let generator = RowGenerator(rows: rows, batchBytes: batchMegabytes << 20)
        let csvFile = work + "/expert.csv"
        try generator.writeCSV(csvFile)

        let expertSeconds = try runExpert(expert, csvFile: csvFile)
        let agentEnvironment = environment.common.merging([
            "ALTO_API_URL": "http://127.0.0.1:\(apiPort)", "ALTO_AGENT_TOKEN": token,
            "ALTO_CUSTOMER_ID": customerID.uuidString, "ALTO_HOST_ID": hostID.uuidString,
            "ALTO_AGENT_STATE_DIR": work + "/agent",
        ]) { _, new in new }
        let first = try await runAlto(generator, database: alto, environment: agentEnvironment, work: work)
        let inventory = try alto.run("SELECT count(*) FROM file_inventory WHERE host_id = '\(hostID)' AND deleted_at IS NULL")
        let hostTotals = try alto.run("SELECT file_count FROM hosts WHERE id = '\(hostID)'")
        guard Int(inventory) == rows, Int(hostTotals) == rows else {
            throw BenchError("the inventory holds \(inventory) files and the host counts \(hostTotals), not \(rows)")
        }
        let relisted = try await runAlto(generator, database: alto, environment: agentEnvironment, work: work)
        let rescan = try await runAlto(generator, listing: .changes, database: alto, environment: agentEnvironment, work: work)
        let after = try alto.run("SELECT count(*) FROM file_inventory WHERE host_id = '\(hostID)' AND deleted_at IS NULL")
        guard Int(after) == rows else { throw BenchError("after the re-scans the inventory holds \(after) files, not \(rows)") }
        let apiPeak = api.peakMiBSoFar
        let ingestPeak = ingesters.map(\.peakMiBSoFar).max() ?? 0

        let expertRate = Double(rows) / expertSeconds
        let firstRate = Double(rows) / first.seconds
        let rescanRate = Double(rows) / rescan.seconds
        let relistedRate = Double(rows) / relisted.seconds
        print("""
            ingest of \(rows) rows (\(ProcessInfo.processInfo.activeProcessorCount) cores, \(ingestWorkers) ingest worker(s), \
            \(first.batches) zstd batches)
              expert: psql \\copy + INSERT … ON CONFLICT   \(Self.rate(expertRate)) rows/s  (\(Self.seconds(expertSeconds)))
              alto: upload → staging → inventory          \(Self.rate(firstRate)) rows/s  (\(Self.seconds(first.seconds)))
              ratio alto / expert                        \(String(format: "%.2f", firstRate / expertRate))x
              alto re-scan listing every file again      \(Self.rate(relistedRate)) rows/s  (\(Self.seconds(relisted.seconds)))
              alto re-scan of the unchanged host         \(Self.rate(rescanRate)) rows/s  (\(Self.seconds(rescan.seconds)), a listing of changes)
              re-scan speed-up over the first scan       \(String(format: "%.2f", rescanRate / firstRate))x \
            (listing every file: \(String(format: "%.2f", relistedRate / firstRate))x)
              peak memory: alto-api \(String(format: "%.1f", apiPeak)) MiB, alto-ingest \(String(format: "%.1f", ingestPeak)) MiB, \
            alto-agent upload \(String(format: "%.1f", max(first.agentPeak, relisted.agentPeak, rescan.agentPeak))) MiB
            """)
    }

    /// The expert's two commands, timed together.
    private func runExpert(_ expert: Psql, csvFile: String) throws -> Double {
        let customer = UUID(), host = UUID()
        try expert.run("""
            INSERT INTO customers (id, name) VALUES ('\(customer)', 'expert');
            INSERT INTO hosts (id, customer_id, hostname) VALUES ('\(host)', '\(customer)', 'expert');
            SELECT inventory.ensure_partition('\(customer)', '\(host)');
            CREATE UNLOGGED TABLE expert_staging (file_path text, file_size bigint, last_modified timestamptz,
                last_accessed timestamptz, file_extension text, permissions text, owner text, hash text);
            """)
        let load = try MeasuredProcess.run("psql", [
            "-X", "-q", "-v", "ON_ERROR_STOP=1", expert.url,
            "-c", "\\copy expert_staging FROM '\(csvFile)' WITH (FORMAT csv, HEADER true)",
            "-c", """
                INSERT INTO file_inventory (customer_id, host_id, file_path, file_size, last_modified, last_accessed,
                    file_extension, permissions, owner, hash)
                SELECT '\(customer)', '\(host)', file_path, file_size, last_modified, last_accessed, file_extension, permissions,
                    owner, hash FROM expert_staging
                ON CONFLICT (host_id, file_path) DO UPDATE SET file_size = EXCLUDED.file_size,
                    last_modified = EXCLUDED.last_modified, last_accessed = EXCLUDED.last_accessed,
                    file_extension = EXCLUDED.file_extension, permissions = EXCLUDED.permissions, owner = EXCLUDED.owner,
                    hash = EXCLUDED.hash, updated_at = now()
                """,
        ])
        let loaded = try expert.run("SELECT count(*) FROM file_inventory")
        guard Int(loaded) == rows else { throw BenchError("the expert's inventory holds \(loaded) rows, not \(rows)") }
        return load.seconds
    }

    struct AltoRun {
        var seconds: Double
        var batches: Int
        var agentPeak: Double
    }

    /// One scan's batches uploaded by the agent, timed until the last of them is ingested.
    private func runAlto(_ generator: RowGenerator, listing: IngestJob.Listing = .complete, database: Psql, environment: [String: String],
                         work: String) async throws -> AltoRun {
        let manifest = try generator.writeSpool(work + "/agent/spool", listing: listing)
        let poll = try PsqlSession(database)
        let started = ContinuousClock.now
        let upload = try MeasuredProcess.run(binaries + "/alto-agent", ["upload"], environment: environment, output: work + "/agent.log")
        let expected = manifest.batches.count
        while true {
            let done = try poll.run("""
                SELECT count(*) FROM scan_staging.uploads WHERE scan_id = '\(manifest.scanID)' AND ingested_at IS NOT NULL
                """)
            if Int(done) == expected { break }
            if ContinuousClock.now - started > .seconds(900) { throw BenchError("ingest did not finish in 15 minutes") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return AltoRun(seconds: (ContinuousClock.now - started) / .seconds(1), batches: expected, agentPeak: upload.peakMiB)
    }

    static func rate(_ value: Double) -> String { String(format: "%9.0f", value) }
    static func seconds(_ value: Double) -> String { String(format: "%.2f s", value) }
}
