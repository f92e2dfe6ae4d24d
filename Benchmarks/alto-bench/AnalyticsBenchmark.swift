import Foundation

/// `alto-bench analytics`: the overview's distributions of a generated host of ten million files (by age, size,
/// extension and owner, from `GET /api/v1/analytics/inventory`) and its savings series, timed end to end through
/// `alto-api`; beside it, in the same run, `psql` counting and summing the same host's rows, the floor of any
/// answer that reads every file once.
struct AnalyticsBenchmark {
    let files: Int
    let rounds: Int
    let postgresURL: String
    let amqpURL: String
    let rabbitmqctl: String?
    let keepWork: Bool

    func run() async throws {
        let environment = try BenchEnvironment(name: "analytics", postgresURL: postgresURL, amqpURL: amqpURL,
                                               rabbitmqctl: rabbitmqctl, keepWork: keepWork)
        defer { environment.close() }
        let database = environment.database
        let apiPort = try await environment.start("alto-api").port
        let (customerID, hostID, _) = try await environment.enrol(apiPort: apiPort)

        print("loading \(files) inventory rows…")
        let loading = ContinuousClock.now
        // Folders, extensions, owners and ages spread as a file server's are: a few hundred owners, a dozen
        // extensions, sizes over six orders of magnitude, ages over ten years, one file in seven already a stub.
        try database.run("SELECT inventory.ensure_partition('\(customerID)', '\(hostID)')")
        try database.run("""
            INSERT INTO file_inventory (customer_id, host_id, file_path, file_size, last_modified, last_accessed, file_extension, owner,
                                        is_stubbed)
            SELECT '\(customerID)', '\(hostID)', '/srv/share/d' || (i % 5000) || '/file-' || i || '.' || extension,
                   (power(10, 2 + (i * 7919 % 6000) / 1000.0))::bigint, now() - ((i * 104729) % 3650) * interval '1 day',
                   CASE WHEN i % 3 = 0 THEN NULL ELSE now() - ((i * 15485863) % 3650) * interval '1 day' END,
                   extension, 'user' || (i * 31 % 400), i % 7 = 0
            FROM generate_series(1::bigint, \(files)) AS i,
                 LATERAL (SELECT (ARRAY['pdf', 'docx', 'xlsx', 'pptx', 'jpg', 'png', 'mp4', 'iso', 'zip', 'txt', 'csv', ''])[1 + i % 12]
                          AS extension) AS pick
            """)
        // A year of daily savings rows, as a host tiering every day leaves them.
        try database.run("""
            INSERT INTO storage_targets (id, customer_id, name, kind, location) VALUES (gen_random_uuid(), '\(customerID)', 'tier2',
                                                                                         'filesystem', '/srv/tier2');
            INSERT INTO savings_daily (customer_id, day, host_id, target_id, files_tiered, bytes_tiered, bytes_saved)
            SELECT '\(customerID)', current_date - span, '\(hostID)', (SELECT id FROM storage_targets WHERE customer_id = '\(customerID)'),
                   1000, 1000 << 20, 990 << 20
            FROM generate_series(0, 364) AS span
            """)
        try database.run("VACUUM ANALYZE file_inventory")
        print(String(format: "loaded in %.0f s", (ContinuousClock.now - loading) / .seconds(1)))

        let host = hostID.uuidString.lowercased()
        var floor: [Double] = [], inventory: [Double] = [], savings: [Double] = []
        var answer = ""
        let yearAgo = Date().addingTimeInterval(-364 * 86400).formatted(Date.ISO8601FormatStyle().year().month().day())
        for _ in 0..<rounds {
            floor.append(try MeasuredProcess.run("psql", [
                "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", database.url, "-c", """
                    SELECT count(*), sum(file_size) FROM file_inventory
                    WHERE customer_id = '\(customerID)' AND host_id = '\(hostID)' AND deleted_at IS NULL
                    """,
            ]).seconds)
            var started = ContinuousClock.now
            answer = try await environment.get(apiPort: apiPort, "/api/v1/analytics/inventory?host_id=\(host)", customer: customerID)
            inventory.append((ContinuousClock.now - started) / .seconds(1))
            started = ContinuousClock.now
            _ = try await environment.get(apiPort: apiPort, "/api/v1/analytics/savings?from=\(yearAgo)", customer: customerID)
            savings.append((ContinuousClock.now - started) / .seconds(1))
        }
        struct Inventory: Decodable {
            var files: Int
            var extensions: [Bucket]
            var owners: [Bucket]
            struct Bucket: Decodable { var key: String }
        }
        let parsed = try JSONDecoder().decode(Inventory.self, from: Data(answer.utf8))
        guard parsed.files == files else { throw BenchError("the inventory counted \(parsed.files) files of \(files)") }
        let best = { (times: [Double]) in times.min() ?? 0 }
        print("""
            a \(files)-file host's overview (\(ProcessInfo.processInfo.activeProcessorCount) cores, best of \(rounds))
              floor: psql count(*) and sum over the host's rows       \(String(format: "%.2f s", best(floor)))
              alto: GET /analytics/inventory (age, size, extension,
                    owner in one pass; \(parsed.extensions.count) extensions, \(parsed.owners.count) owners shown)    \(String(format: "%.2f s", best(inventory)))
              ratio alto / floor                                      \(String(format: "%.2f", best(inventory) / best(floor)))x
              alto: GET /analytics/savings (a year of days)           \(String(format: "%.3f s", best(savings)))
            """)
    }
}
