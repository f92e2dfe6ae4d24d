import AltoAMQP
import AltoModels
import AltoTestSupport
import Foundation
import PostgresNIO
import Testing

/// The planner as separate processes against the real PostgreSQL and RabbitMQ: jobs are published once, survive a
/// planner killed between writing and publishing them, and two planners never take the same file.
@Suite(.timeLimit(.minutes(5))) struct PlannerTests {
    struct Created: Decodable { var id: UUID }

    /// A tenant with one host whose inventory holds 2,500 old files under /srv/share/archive (which one rule
    /// takes) and 2,500 under /srv/share/current, each modified at another time, a third of them hashed.
    struct Tenant {
        var customer: UUID
        var host: UUID
        var token: String
        var rule: UUID
    }

    static let archivedFiles = 2_500

    static func tenant(_ suite: RunningSuite, postgres: PostgresConnection) async throws -> Tenant {
        let (customer, host, token) = try await suite.enrol("planner-\(suite.run)")
        let target: Created = try await suite.post("/api/v1/storage-targets",
                                                   ["name": "tier2", "kind": "filesystem", "location": suite.work.path + "/tier2",
                                                    "bandwidth_bytes_per_second": 50 << 20] as [String: any Sendable],
                                                   customer: customer)
        let rule: Created = try await suite.post("/api/v1/rules", [
            "name": "archive", "priority": 10, "path_globs": ["/srv/share/archive/**"], "min_days_since_modified": 180,
            "target_id": target.id.uuidString,
        ] as [String: any Sendable], customer: customer)
        try await postgres.query("SELECT inventory.ensure_partition(\(customer), \(host))", logger: TestServers.logger)
        try await postgres.query("""
            INSERT INTO file_inventory (customer_id, host_id, file_path, file_size, last_modified, file_extension, hash)
            SELECT \(customer), \(host), '/srv/share/' || CASE WHEN n % 2 = 0 THEN 'archive' ELSE 'current' END || '/f' || n || '.pdf',
                   100000 + n, now() - interval '400 days' - n * interval '1.5 seconds', 'pdf',
                   CASE WHEN n % 3 = 0 THEN md5(n::text) END
            FROM generate_series(1, \(archivedFiles * 2)) AS n
            """, logger: TestServers.logger)
        return Tenant(customer: customer, host: host, token: token, rule: rule.id)
    }

    static func planRun(_ postgres: PostgresConnection, _ planID: UUID) async throws -> (planned: Int, jobs: Int)? {
        for try await row in try await postgres.query("SELECT files_planned, jobs FROM plan_runs WHERE id = \(planID)", logger: TestServers.logger)
            .decode((Int, Int).self) {
            return row
        }
        return nil
    }

    static func requestPlan(_ suite: RunningSuite, _ tenant: Tenant) async throws -> UUID {
        struct Queued: Decodable {
            struct Plan: Decodable { var plan_id: UUID }
            var plans: [Plan]
        }
        let queued: Queued = try await suite.post("/api/v1/plans", ["host_id": tenant.host.uuidString], customer: tenant.customer,
                                                  expecting: 202)
        return try #require(queued.plans.first?.plan_id)
    }

    static func waitForPlan(_ postgres: PostgresConnection, _ planID: UUID) async throws -> (planned: Int, jobs: Int) {
        try await RunningSuite.waitUntil("plan \(planID) is written", timeout: .seconds(60)) {
            try await planRun(postgres, planID) != nil
        }
        return try #require(try await planRun(postgres, planID))
    }

    static func jobs(in messages: [AMQPMessage]) throws -> [TieringJob] {
        try messages.map { message in
            guard case .accepted(let envelope) = EnvelopeReader.read(TieringJob.self, from: message.body) else {
                throw TestFailure("a message on tiering.jobs is not a tiering job")
            }
            return envelope.payload
        }
    }

    @Test func aPlanPublishesItsJobsOnceWithEstimatesAndTheNextPlanSkipsFilesInOpenJobs() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-planner"],
                                           environment: ["ALTO_PLANNER_SCHEDULE_SECONDS": "0", "ALTO_PLANNER_MAX_FILES_PER_JOB": "1000"])
        try await suite.whileRunning {
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let tenant = try await Self.tenant(suite, postgres: postgres)

                let (status, text) = try await suite.send(suite.apiURL + "/api/v1/plans?dry_run=true",
                                                         body: Data(#"{"host_id":"\#(tenant.host)"}"#.utf8),
                                                         headers: RunningSuite.adminHeaders.merging([
                                                             "Content-Type": "application/json", "X-Alto-Customer-Id": tenant.customer.uuidString,
                                                         ]) { _, new in new })
                #expect(status == 200, "\(text)")
                let report = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
                let rule = try #require(((report["hosts"] as? [[String: Any]])?.first?["rules"] as? [[String: Any]])?.first)
                #expect(rule["files_matched"] as? Int == Self.archivedFiles)
                #expect((rule["top_directories"] as? [[String: Any]])?.first?["path"] as? String == "/srv/share/archive")
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs") == 0, "a what-if queues nothing")

                let planID = try await Self.requestPlan(suite, tenant)
                let run = try await Self.waitForPlan(postgres, planID)
                #expect(run.planned == Self.archivedFiles)
                #expect(run.jobs == 3)
                let jobs = try Self.jobs(in: try await suite.drain(AMQPTopology.tieringJobs))
                #expect(jobs.count == 3, "each job published exactly once")
                #expect(jobs.map(\.files.count).sorted() == [500, 1000, 1000])
                let fileIDs = jobs.flatMap { $0.files.map(\.fileID) }
                #expect(Set(fileIDs).count == Self.archivedFiles)
                #expect(jobs.allSatisfy { $0.files.allSatisfy { $0.filePath.hasPrefix("/srv/share/archive/") } })
                var inventory: [Int64: TieringJob.File] = [:]
                for try await (id, path, size, modified, hash) in try await postgres.query("""
                    SELECT id, file_path, file_size, last_modified, hash FROM file_inventory WHERE host_id = \(tenant.host)
                    """, logger: TestServers.logger).decode((Int64, String, Int64, Date, String?).self) {
                    inventory[id] = TieringJob.File(fileID: id, filePath: path, fileSize: size, lastModified: modified, hash: hash)
                }
                for file in jobs.flatMap(\.files) {
                    let row = try #require(inventory[file.fileID], "a job's file is an inventory row of the host")
                    #expect(file.filePath == row.filePath && file.fileSize == row.fileSize && file.hash == row.hash,
                            "a job carries its file's path, size and hash as the inventory holds them")
                    #expect(abs(file.lastModified.timeIntervalSince(row.lastModified)) < 0.000_002)
                }
                #expect(jobs.flatMap(\.files).contains { $0.hash != nil } && jobs.flatMap(\.files).contains { $0.hash == nil })
                var stored: Set<String> = []
                for try await (job, file, path, size) in try await postgres.query("""
                    SELECT job_id, file_id, file_path, file_size FROM tiering_job_files
                    """, logger: TestServers.logger).decode((UUID, Int64, String, Int64).self) {
                    stored.insert("\(job) \(file) \(path) \(size)")
                }
                #expect(stored == Set(jobs.flatMap { job in job.files.map { "\(job.jobID) \($0.fileID) \($0.filePath) \($0.fileSize)" } }),
                        "the job files stored are the ones published")
                for job in jobs {
                    let lastUsed = job.files.map(\.lastModified.timeIntervalSince1970)
                    #expect(lastUsed == lastUsed.sorted(), "a job lists its files coldest first")
                    #expect(job.estimatedSpaceSaved == job.files.reduce(0) { $0 + $1.fileSize })
                    #expect(abs(job.estimatedDurationSeconds - Double(job.estimatedSpaceSaved) / Double(50 << 20)) < 0.01)
                    #expect(job.bandwidthBytesPerSecond == 50 << 20)
                }

                let again = try await Self.waitForPlan(postgres, try await Self.requestPlan(suite, tenant))
                #expect(again.planned == 0, "files in open jobs are not planned again")
                #expect(try await suite.drain(AMQPTopology.tieringJobs).isEmpty)
            }
        }
    }

    @Test func aPlannerKilledBetweenWritingAndPublishingItsJobsPublishesThemOnRestartOnce() async throws {
        let environment = ["ALTO_PLANNER_SCHEDULE_SECONDS": "0", "ALTO_PLANNER_MAX_FILES_PER_JOB": "1000", "ALTO_OUTBOX_RELAY": "false"]
        let suite = try await RunningSuite(["alto-api"], environment: environment)
        try await suite.whileRunning {
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let tenant = try await Self.tenant(suite, postgres: postgres)
                let planner = try await suite.launch("alto-planner")

                let trigger = Envelope(customerID: tenant.customer, hostID: tenant.host, payload: PlannerTrigger(reason: .admin))
                let publisher = AMQPPublisher(configuration: try AMQPConfiguration(url: suite.amqpURL), logger: TestServers.logger)
                try await publisher.publish(AMQPMessage(body: try trigger.encoded(), messageID: trigger.id.uuidString),
                                            routingKey: AMQPTopology.plannerJobs)
                await publisher.shutdown()
                let run = try await Self.waitForPlan(postgres, trigger.id)
                #expect(run.jobs == 3)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM outbox WHERE routing_key = 'tiering.jobs'") == 3)
                await planner.crash()
                #expect(try await suite.drain(AMQPTopology.tieringJobs, quiet: .seconds(1)).isEmpty, "nothing was published yet")

                try suite.start("alto-planner", environment: ["ALTO_OUTBOX_RELAY": "true"])
                let messages = try await suite.drain(AMQPTopology.tieringJobs)
                let jobs = try Self.jobs(in: messages)
                #expect(jobs.count == 3)
                #expect(Set(jobs.map(\.jobID)).count == 3)
                #expect(Set(jobs.flatMap { $0.files.map(\.fileID) }).count == Self.archivedFiles)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM outbox") == 0)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs") == 3, "the plan was not made twice")
            }
        }
    }

    @Test func twoPlannersAtOnceNeverPlanTheSameFile() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-planner", "alto-planner"],
                                           environment: ["ALTO_PLANNER_SCHEDULE_SECONDS": "0", "ALTO_PLANNER_MAX_FILES_PER_JOB": "100"])
        try await suite.whileRunning {
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let tenant = try await Self.tenant(suite, postgres: postgres)
                async let first = Self.requestPlan(suite, tenant)
                async let second = Self.requestPlan(suite, tenant)
                let plans = try await [first, second]
                var planned = 0
                for plan in plans { planned += try await Self.waitForPlan(postgres, plan).planned }
                #expect(planned == Self.archivedFiles)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_job_files") == Self.archivedFiles)
                #expect(try await RunningSuite.count(postgres, "SELECT count(DISTINCT file_id) FROM tiering_job_files") == Self.archivedFiles)
                let jobs = try Self.jobs(in: try await suite.drain(AMQPTopology.tieringJobs))
                #expect(jobs.count == Self.archivedFiles / 100)
                #expect(Set(jobs.flatMap { $0.files.map(\.fileID) }).count == Self.archivedFiles)
            }
        }
    }
}
