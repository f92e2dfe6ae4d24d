import AltoModels
import AsyncHTTPClient
import Foundation
import NIOCore

/// `alto-bench ingest`: a million generated rows through the real path (the agent uploads zstd batches to
/// alto-api, alto-ingest loads, normalizes and merges them and updates the host), timed until the last batch is
/// in the inventory; then the same rows as an unchanged re-scan; and, in the same run, the expert's pipeline
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

    private let adminToken = "alto-bench-admin"
    private let apiPort = 18480

    func run() async throws {
        let suffix = String(UUID().uuidString.lowercased().prefix(8))
        let work = FileManager.default.temporaryDirectory.path + "/alto-bench-ingest-" + suffix
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let server = Psql(url: postgresURL)
        let alto = server.database("alto_bench_" + suffix)
        let expert = server.database("alto_bench_expert_" + suffix)
        try server.run("CREATE DATABASE alto_bench_\(suffix)")
        try server.run("CREATE DATABASE alto_bench_expert_\(suffix)")
        var vhostURL = amqpURL
        if let rabbitmqctl {
            _ = try Psql.capture(["sh", "-c", "\(rabbitmqctl) add_vhost alto_bench_\(suffix) && \(rabbitmqctl) set_permissions -p alto_bench_\(suffix) guest '.*' '.*' '.*'"])
            if var components = URLComponents(string: amqpURL) {
                components.path = "/alto_bench_\(suffix)"
                vhostURL = components.string ?? amqpURL
            }
        }
        var services: [MeasuredProcess] = []
        defer {
            for service in services { _ = service.terminate() }
            _ = try? server.run("DROP DATABASE IF EXISTS alto_bench_\(suffix)")
            _ = try? server.run("DROP DATABASE IF EXISTS alto_bench_expert_\(suffix)")
            if let rabbitmqctl { _ = try? Psql.capture(["sh", "-c", "\(rabbitmqctl) delete_vhost alto_bench_\(suffix)"]) }
            if keepWork { print("logs and data kept in \(work)") } else { try? FileManager.default.removeItem(atPath: work) }
        }
        let common = ["ALTO_POSTGRES_URL": alto.url, "ALTO_AMQP_URL": vhostURL, "ALTO_LOG_LEVEL": keepWork ? "info" : "warning",
                      "ALTO_ADMIN_TOKEN": adminToken]
        _ = try MeasuredProcess.run(binaries + "/alto-api", ["migrate"], environment: common, output: work + "/migrate.log")
        _ = try MeasuredProcess.run(binaries + "/alto-api", ["migrate"], environment: common.merging(["ALTO_POSTGRES_URL": expert.url]) { _, new in new },
                                    output: work + "/migrate.log")
        let api = try MeasuredProcess(binaries + "/alto-api", [], environment: common.merging(["ALTO_HTTP_PORT": "\(apiPort)"]) { _, new in new },
                                      output: work + "/api.log")
        services.append(api)
        var ingesters: [MeasuredProcess] = []
        for worker in 0..<ingestWorkers {
            let ingest = try MeasuredProcess(binaries + "/alto-ingest", [],
                                             environment: common.merging(["ALTO_HTTP_PORT": "\(apiPort + 1 + worker)"]) { _, new in new },
                                             output: work + "/ingest-\(worker).log")
            services.append(ingest)
            ingesters.append(ingest)
        }
        for port in [apiPort] + (0..<ingestWorkers).map({ apiPort + 1 + $0 }) {
            try await waitForHealth(port: port)
        }
        let (customerID, hostID, token) = try await enrol()

        print("generating \(rows) rows…")
        let generator = RowGenerator(rows: rows, batchBytes: batchMegabytes << 20)
        let csvFile = work + "/expert.csv"
        try generator.writeCSV(csvFile)

        let expertSeconds = try runExpert(expert, csvFile: csvFile)
        let agentEnvironment = common.merging([
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
        let rescan = try await runAlto(generator, database: alto, environment: agentEnvironment, work: work)
        let apiPeak = api.peakMiBSoFar
        let ingestPeak = ingesters.map(\.peakMiBSoFar).max() ?? 0

        let expertRate = Double(rows) / expertSeconds
        let firstRate = Double(rows) / first.seconds
        let rescanRate = Double(rows) / rescan.seconds
        print("""
            ingest of \(rows) rows (\(ProcessInfo.processInfo.activeProcessorCount) cores, \(ingestWorkers) ingest worker(s), \
            \(first.batches) zstd batches)
              expert: psql \\copy + INSERT … ON CONFLICT   \(Self.rate(expertRate)) rows/s  (\(Self.seconds(expertSeconds)))
              alto: upload → staging → inventory          \(Self.rate(firstRate)) rows/s  (\(Self.seconds(first.seconds)))
              ratio alto / expert                        \(String(format: "%.2f", firstRate / expertRate))x
              alto re-scan of the unchanged host         \(Self.rate(rescanRate)) rows/s  (\(Self.seconds(rescan.seconds)))
              re-scan speed-up over the first scan       \(String(format: "%.2f", rescanRate / firstRate))x
              peak memory: alto-api \(String(format: "%.1f", apiPeak)) MiB, alto-ingest \(String(format: "%.1f", ingestPeak)) MiB, \
            alto-agent upload \(String(format: "%.1f", max(first.agentPeak, rescan.agentPeak))) MiB
            """)
    }

    /// The expert's two commands, timed together.
    private func runExpert(_ expert: Psql, csvFile: String) throws -> Double {
        let customer = UUID(), host = UUID()
        try expert.run("""
            INSERT INTO customers (id, name) VALUES ('\(customer)', 'expert');
            INSERT INTO hosts (id, customer_id, hostname) VALUES ('\(host)', '\(customer)', 'expert');
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
    private func runAlto(_ generator: RowGenerator, database: Psql, environment: [String: String], work: String) async throws -> AltoRun {
        let manifest = try generator.writeSpool(work + "/agent/spool")
        let started = ContinuousClock.now
        let upload = try MeasuredProcess.run(binaries + "/alto-agent", ["upload"], environment: environment, output: work + "/agent.log")
        let expected = manifest.batches.count
        while true {
            let done = try database.run("""
                SELECT count(*) FROM scan_staging.uploads WHERE scan_id = '\(manifest.scanID)' AND ingested_at IS NOT NULL
                """)
            if Int(done) == expected { break }
            if ContinuousClock.now - started > .seconds(900) { throw BenchError("ingest did not finish in 15 minutes") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return AltoRun(seconds: (ContinuousClock.now - started) / .seconds(1), batches: expected, agentPeak: upload.peakMiB)
    }

    private func enrol() async throws -> (UUID, UUID, String) {
        struct Created: Decodable { var id: UUID }
        struct Host: Decodable {
            var id: UUID
            var agentToken: String
            enum CodingKeys: String, CodingKey {
                case id
                case agentToken = "agent_token"
            }
        }
        let customer: Created = try await post("/api/v1/customers", ["name": "bench"])
        let host: Host = try await post("/api/v1/customers/\(customer.id.uuidString.lowercased())/hosts", ["hostname": "fileserver"])
        return (customer.id, host.id, host.agentToken)
    }

    private func post<Answer: Decodable>(_ path: String, _ body: [String: String]) async throws -> Answer {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(apiPort)" + path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(adminToken)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 1 << 20)
        guard response.status.code < 300 else { throw BenchError("\(path) answered \(response.status.code): \(String(buffer: data))") }
        return try JSONDecoder().decode(Answer.self, from: Data(data.readableBytesView))
    }

    private func waitForHealth(port: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz")
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)), response.status == .ok { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw BenchError("the service on port \(port) did not become healthy")
    }

    static func rate(_ value: Double) -> String { String(format: "%9.0f", value) }
    static func seconds(_ value: Double) -> String { String(format: "%.2f s", value) }
}
