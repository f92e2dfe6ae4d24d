import AltoModels
import Foundation

/// `alto-bench plan`, second part: a full plan of a generated 1,000,000-file host by the `alto-planner` process,
/// from the admin's `POST /api/v1/plans` until its jobs are committed and published, with the planner's peak memory;
/// beside it, in the same round, `psql` reading the same host's rows out of the same table (`\copy … TO /dev/null`),
/// the floor of any plan that looks at every file. A round's ratio moved by a fifth between rounds on a 2-core
/// machine, so several rounds are run and the median one is reported, with every round's ratio.
struct FullPlanBenchmark {
    let files: Int
    /// Plans measured, each in a database of its own beside its own floor; the median ratio is the figure.
    let rounds: Int
    let postgresURL: String
    let amqpURL: String
    let rabbitmqctl: String?
    let keepWork: Bool

    /// One plan beside its floor.
    struct Round {
        var floor: Double
        var committed: Double
        var published: Double
        var evaluated: Int
        var planned: Int
        var bytes: Int
        var jobs: Int
        var peakMiB: Double

        var ratio: Double { published / floor }
    }

    func run() async throws {
        print("loading \(files) inventory rows…")
        let csv = NSTemporaryDirectory() + "alto-bench-plan-\(UUID().uuidString).csv"
        try Self.writeCSV(PlanBenchmark.inventory(files), to: csv)
        defer { try? FileManager.default.removeItem(atPath: csv) }
        var measured: [Round] = []
        for round in 1...max(1, rounds) {
            let result = try await plan(csv)
            print(String(format: "round %d: floor %.2f s, alto %.2f s, ratio %.2fx", round, result.floor, result.published, result.ratio))
            measured.append(result)
        }
        let median = measured.sorted { $0.ratio < $1.ratio }[measured.count / 2]
        print("""
            full plan of a \(files)-file host with 50 rules (\(ProcessInfo.processInfo.activeProcessorCount) cores), the median of \(measured.count) rounds
              files read and evaluated                  \(median.evaluated)
              files planned                             \(median.planned) (\(median.bytes >> 30) GiB) in \(median.jobs) jobs
              floor: psql \\copy of the host's rows       \(String(format: "%.2f s", median.floor))
              alto: request → jobs committed            \(String(format: "%.2f s", median.committed))
              alto: request → jobs published            \(String(format: "%.2f s", median.published))
              ratio alto (published) / floor            \(String(format: "%.2f", median.ratio))x (rounds: \(measured.map { String(format: "%.2f", $0.ratio) }.joined(separator: ", ")))
              alto-planner peak memory                  \(String(format: "%.1f MiB", measured.map(\.peakMiB).max() ?? 0))
            """)
    }

    /// A fresh database and services, the CSV loaded as one host's inventory, the floor, then the plan.
    private func plan(_ csv: String) async throws -> Round {
        let environment = try BenchEnvironment(name: "plan", postgresURL: postgresURL, amqpURL: amqpURL,
                                               rabbitmqctl: rabbitmqctl, keepWork: keepWork)
        defer { environment.close() }
        let database = environment.database
        let apiPort = try await environment.start("alto-api").port
        let planner = try await environment.start("alto-planner", environment: ["ALTO_PLANNER_SCHEDULE_SECONDS": "0"]).process
        let (customerID, hostID, _) = try await environment.enrol(apiPort: apiPort)
        struct Created: Decodable { var id: UUID }
        let target: Created = try await environment.post(
            apiPort: apiPort, "/api/v1/storage-targets",
            body: ["name": "tier2", "kind": "filesystem", "location": environment.work + "/tier2"], customer: customerID)
        for rule in PlanBenchmark.rules(target: target.id) {
            let _: Created = try await environment.post(apiPort: apiPort, "/api/v1/rules", body: rule, customer: customerID)
        }
        try database.run("SELECT inventory.ensure_partition('\(customerID)', '\(hostID)')")
        try database.run("""
            \\copy file_inventory (customer_id, host_id, file_path, file_size, last_modified, last_accessed, file_extension) \
            FROM PROGRAM 'sed "s/^/\(customerID),\(hostID),/" \(csv)' WITH (FORMAT csv)
            """)
        try database.run("VACUUM ANALYZE file_inventory")

        let floor = try MeasuredProcess.run("psql", [
            "-X", "-q", "-v", "ON_ERROR_STOP=1", database.url, "-c", """
                \\copy (SELECT id, file_path, file_size, last_modified, last_accessed, file_extension FROM file_inventory \
                WHERE customer_id = '\(customerID)' AND host_id = '\(hostID)' AND NOT is_stubbed AND deleted_at IS NULL) TO '/dev/null'
                """,
        ])

        struct Queued: Decodable {
            struct Plan: Decodable { var plan_id: UUID }
            var plans: [Plan]
        }
        let poll = try PsqlSession(database)
        let started = ContinuousClock.now
        let queued: Queued = try await environment.post(apiPort: apiPort, "/api/v1/plans", body: ["host_id": hostID.uuidString],
                                                        customer: customerID)
        guard let planID = queued.plans.first?.plan_id else { throw BenchError("the plan was not queued") }
        var committed: Double?
        var run = ""
        while true {
            if ContinuousClock.now - started > .seconds(600) { throw BenchError("the plan did not finish in 10 minutes") }
            if committed == nil {
                run = try poll.run("SELECT files_evaluated || ' ' || files_planned || ' ' || bytes_planned || ' ' || jobs FROM plan_runs WHERE id = '\(planID)'")
                if !run.isEmpty { committed = (ContinuousClock.now - started) / .seconds(1) }
            }
            if committed != nil, try poll.run("SELECT count(*) FROM outbox") == "0" { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let published = (ContinuousClock.now - started) / .seconds(1)
        let figures = run.split(separator: " ").map { Int($0) ?? 0 }
        guard figures.count == 4, figures[1] > 0 else { throw BenchError("the plan took nothing: \(run)") }
        let jobFiles = try poll.run("SELECT count(*) FROM tiering_job_files")
        guard Int(jobFiles) == figures[1] else { throw BenchError("\(jobFiles) job files for \(figures[1]) files planned") }
        return Round(floor: floor.seconds, committed: committed ?? 0, published: published, evaluated: figures[0],
                     planned: figures[1], bytes: figures[2], jobs: figures[3], peakMiB: planner.peakMiBSoFar)
    }

    /// The inventory as CSV rows without the tenant columns, which the load prepends.
    static func writeCSV(_ inventory: [InventoryFile], to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw BenchError("cannot write \(path)")
        }
        defer { try? handle.close() }
        let formatter = ISO8601DateFormatter()
        var chunk = ""
        for file in inventory {
            chunk += "\(file.path),\(file.size),\(formatter.string(from: file.lastModified)),"
            chunk += "\(file.lastAccessed.map(formatter.string) ?? ""),\(file.fileExtension)\n"
            if chunk.utf8.count > 1 << 20 {
                try handle.write(contentsOf: Data(chunk.utf8))
                chunk = ""
            }
        }
        try handle.write(contentsOf: Data(chunk.utf8))
    }
}
