import AltoModels
import Foundation

/// `alto-bench scale`: what one more replica of a stage buys on this machine, each configuration on a database and
/// vhost of its own and timed in the same run as the single process it is compared with: ingest rows/s with 1, 2
/// and 3 `alto-ingest` processes (several hosts uploading first scans at once, since one host's batches merge one
/// after the other), planner files/s with 1 and 2 `alto-planner` processes (several hosts' full plans queued at
/// once), and actor dispatches/s with 1 and 2 `alto-actor` processes (a backlog of queued jobs on several hosts).
struct ScaleBenchmark {
    let hosts: Int
    let ingestRowsPerHost: Int
    let planFilesPerHost: Int
    let dispatchFilesPerHost: Int
    let postgresURL: String
    let amqpURL: String
    let rabbitmqctl: String?
    let keepWork: Bool

    struct Created: Decodable {
        var id: UUID
        var agent_token: String?
    }

    func run() async throws {
        var ingest: [(Int, Double)] = []
        for processes in 1...3 { ingest.append((processes, try await ingestRate(processes: processes))) }
        var plan: [(Int, Double)] = []
        for processes in 1...2 { plan.append((processes, try await planRate(processes: processes))) }
        var dispatch: [(Int, Double)] = []
        for processes in 1...2 { dispatch.append((processes, try await dispatchRate(processes: processes))) }
        print("""
            replicas of a stage against one PostgreSQL and RabbitMQ (\(ProcessInfo.processInfo.activeProcessorCount) cores, \(hosts) hosts)
            \(Self.lines("ingest rows/s, first scans of \(ingestRowsPerHost) rows per host", ingest, unit: "alto-ingest"))
            \(Self.lines("planner files/s, full plans of \(planFilesPerHost) files per host", plan, unit: "alto-planner"))
            \(Self.lines("actor dispatches/s, a backlog of one-file jobs from \(dispatchFilesPerHost) files per host", dispatch, unit: "alto-actor"))
            """)
    }

    private static func lines(_ title: String, _ figures: [(Int, Double)], unit: String) -> String {
        let single = figures.first?.1 ?? 1
        return "  \(title)\n" + figures.map { processes, rate in
            "    \(processes) \(unit) \(String(format: "%10.0f", rate))/s   \(String(format: "%.2f", rate / single))x the single process"
        }.joined(separator: "\n")
    }

    private func environment(_ name: String) throws -> BenchEnvironment {
        try BenchEnvironment(name: name, postgresURL: postgresURL, amqpURL: amqpURL, rabbitmqctl: rabbitmqctl, keepWork: keepWork)
    }

    /// A customer with `hosts` enrolled hosts, a tier-2 target and the plan benchmark's fifty rules.
    private func tenant(_ environment: BenchEnvironment, apiPort: Int) async throws -> (customer: UUID, hosts: [Created]) {
        let customer: Created = try await environment.post(apiPort: apiPort, "/api/v1/customers", body: ["name": "scale"])
        var enrolled: [Created] = []
        for index in 0..<hosts {
            enrolled.append(try await environment.post(apiPort: apiPort, "/api/v1/customers/\(customer.id.uuidString.lowercased())/hosts",
                                                       body: ["hostname": "fileserver-\(index)"]))
        }
        let target: Created = try await environment.post(
            apiPort: apiPort, "/api/v1/storage-targets",
            body: ["name": "tier2", "kind": "filesystem", "location": environment.work + "/tier2"], customer: customer.id)
        for rule in PlanBenchmark.rules(target: target.id) {
            let _: Created = try await environment.post(apiPort: apiPort, "/api/v1/rules", body: rule, customer: customer.id)
        }
        return (customer.id, enrolled)
    }

    /// Every host uploads a first scan at once; rows/s until the last batch of the last host is in the inventory.
    private func ingestRate(processes: Int) async throws -> Double {
        let environment = try environment("scale_ingest_\(processes)")
        defer { environment.close() }
        let apiPort = try await environment.start("alto-api").port
        for _ in 0..<processes { try await environment.start("alto-ingest") }
        let (customer, enrolled) = try await tenant(environment, apiPort: apiPort)
        print("ingest with \(processes) alto-ingest: generating \(hosts) scans of \(ingestRowsPerHost) rows…")
        let generator = RowGenerator(rows: ingestRowsPerHost, batchBytes: 8 << 20)
        var batches = 0
        var uploads: [(host: Created, environment: [String: String])] = []
        for (index, host) in enrolled.enumerated() {
            let state = environment.work + "/agent-\(index)"
            batches += try generator.writeSpool(state + "/spool").batches.count
            uploads.append((host, environment.common.merging([
                "ALTO_API_URL": "http://127.0.0.1:\(apiPort)", "ALTO_AGENT_TOKEN": host.agent_token ?? "",
                "ALTO_CUSTOMER_ID": customer.uuidString, "ALTO_HOST_ID": host.id.uuidString, "ALTO_AGENT_STATE_DIR": state,
            ]) { _, new in new }))
        }
        let started = ContinuousClock.now
        let agents = try uploads.enumerated().map { index, upload in
            try MeasuredProcess(AltoBench.binaries + "/alto-agent", ["upload"], environment: upload.environment,
                                output: environment.work + "/agent-\(index).log")
        }
        let poll = try PsqlSession(environment.database)
        try await waitUntil("every batch is ingested", started: started) {
            Int(try poll.run("SELECT count(*) FROM scan_staging.uploads WHERE ingested_at IS NOT NULL")) == batches
        }
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        for agent in agents where agent.wait().status != 0 { throw BenchError("an agent's upload failed; see its log") }
        let inventory = try environment.database.run("SELECT count(*) FROM file_inventory WHERE deleted_at IS NULL")
        guard Int(inventory) == hosts * ingestRowsPerHost else {
            throw BenchError("the inventory holds \(inventory) files, not \(hosts * ingestRowsPerHost)")
        }
        return Double(hosts * ingestRowsPerHost) / seconds
    }

    /// Loads `files` inventory rows into each host, as a scan would have left them.
    private func loadInventory(_ environment: BenchEnvironment, customer: UUID, hosts: [Created], files: Int) throws {
        let csv = environment.work + "/inventory.csv"
        try FullPlanBenchmark.writeCSV(PlanBenchmark.inventory(files), to: csv)
        for host in hosts {
            try environment.database.run("SELECT inventory.ensure_partition('\(customer)', '\(host.id)')")
            try environment.database.run("""
                \\copy file_inventory (customer_id, host_id, file_path, file_size, last_modified, last_accessed, file_extension) \
                FROM PROGRAM 'sed "s/^/\(customer),\(host.id),/" \(csv)' WITH (FORMAT csv)
                """)
        }
        try environment.database.run("VACUUM ANALYZE file_inventory")
    }

    /// Queues a full plan of every host.
    private func queuePlans(_ environment: BenchEnvironment, apiPort: Int, customer: UUID, hosts: [Created]) async throws {
        struct Queued: Decodable {}
        for host in hosts {
            let _: Queued = try await environment.post(apiPort: apiPort, "/api/v1/plans", body: ["host_id": host.id.uuidString],
                                                       customer: customer)
        }
    }

    /// Every host's full plan queued at once; files evaluated per second until the last plan is committed.
    private func planRate(processes: Int) async throws -> Double {
        let environment = try environment("scale_plan_\(processes)")
        defer { environment.close() }
        let apiPort = try await environment.start("alto-api").port
        for _ in 0..<processes { try await environment.start("alto-planner", environment: ["ALTO_PLANNER_SCHEDULE_SECONDS": "0"]) }
        let (customer, enrolled) = try await tenant(environment, apiPort: apiPort)
        print("plan with \(processes) alto-planner: loading \(hosts) hosts of \(planFilesPerHost) files…")
        try loadInventory(environment, customer: customer, hosts: enrolled, files: planFilesPerHost)
        let poll = try PsqlSession(environment.database)
        let started = ContinuousClock.now
        try await queuePlans(environment, apiPort: apiPort, customer: customer, hosts: enrolled)
        try await waitUntil("every host is planned", started: started) {
            Int(try poll.run("SELECT count(*) FROM plan_runs")) == hosts
        }
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        let evaluated = Int(try environment.database.run("SELECT sum(files_evaluated) FROM plan_runs")) ?? 0
        guard evaluated > 0 else { throw BenchError("the plans evaluated no file") }
        return Double(evaluated) / seconds
    }

    /// A backlog of one-file jobs, planned and published before any actor runs; dispatches per second until
    /// every one of them has left the queued state.
    private func dispatchRate(processes: Int) async throws -> Double {
        let environment = try environment("scale_dispatch_\(processes)")
        defer { environment.close() }
        let apiPort = try await environment.start("alto-api").port
        try await environment.start("alto-planner", environment: [
            "ALTO_PLANNER_SCHEDULE_SECONDS": "0", "ALTO_PLANNER_MAX_FILES_PER_JOB": "1",
        ])
        let (customer, enrolled) = try await tenant(environment, apiPort: apiPort)
        print("dispatch with \(processes) alto-actor: planning \(hosts) hosts of \(dispatchFilesPerHost) files, a job per file…")
        try loadInventory(environment, customer: customer, hosts: enrolled, files: dispatchFilesPerHost)
        let poll = try PsqlSession(environment.database)
        try await queuePlans(environment, apiPort: apiPort, customer: customer, hosts: enrolled)
        try await waitUntil("every job is planned and published", started: .now) {
            let planned = Int(try poll.run("SELECT count(*) FROM plan_runs")) == hosts
            return try planned && poll.run("SELECT count(*) FROM outbox") == "0"
        }
        let jobs = Int(try environment.database.run("SELECT count(*) FROM tiering_jobs")) ?? 0
        guard jobs > 0 else { throw BenchError("the plans made no jobs") }
        let started = ContinuousClock.now
        for _ in 0..<processes {
            try await environment.start("alto-actor", environment: ["ALTO_ACTOR_HOST_CONCURRENT_JOBS": "\(jobs)"])
        }
        try await waitUntil("every job is dispatched", started: started) {
            try poll.run("SELECT count(*) FROM tiering_jobs WHERE state = 'queued'") == "0"
        }
        return Double(jobs) / ((ContinuousClock.now - started) / .seconds(1))
    }

    private func waitUntil(_ what: String, started: ContinuousClock.Instant, _ done: () throws -> Bool) async throws {
        while try !done() {
            if ContinuousClock.now - started > .seconds(900) { throw BenchError("not done in 15 minutes: \(what)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
