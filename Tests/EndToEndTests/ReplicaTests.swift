import AltoModels
import AltoTestSupport
import AltoTiering
import Foundation
import PostgresNIO
import Testing

/// Several replicas of each scaled stage against one PostgreSQL and one RabbitMQ, as a deployment scales them: three
/// ingest, two planner and two actor processes while ten hosts of five tenants scan and are tiered at once, one
/// replica of each stage killed with SIGKILL while the work is in flight. What the admins would check afterwards must
/// be what one process of each would have left: every file inventoried once with its size, every cold file in one
/// job and tiered once, every job done, each tenant's totals its own.
@Suite(.timeLimit(.minutes(10))) struct ReplicaTests {
    static let tenants = 5
    static let hostsPerTenant = 2
    static let coldFiles = 24
    static let warmFiles = 12

    struct Host {
        var customer: UUID
        var id: UUID
        var root: URL
        var environment: [String: String]
        var cold: [String: Data] = [:]
        var warm: [String: Data] = [:]
    }

    struct Created: Decodable {
        var id: UUID
        var agent_token: String?
    }

    @Test func replicasOfEachStageShareTheWorkAndSurviveAKilledOne() async throws {
        // Only the plans the scans ask for: a scheduled one would find nothing more, but would make the run's work
        // depend on the clock.
        let suite = try await RunningSuite(["alto-api", "alto-ingest", "alto-ingest", "alto-ingest", "alto-planner", "alto-planner",
                                            "alto-actor", "alto-actor"], environment: ["ALTO_PLANNER_SCHEDULE_SECONDS": "0"])
        try await suite.whileRunning {
            var hosts: [Host] = []
            for tenant in 0..<Self.tenants {
                let customer: Created = try await suite.post("/api/v1/customers", ["name": "replicas-\(tenant)-\(suite.run)"])
                let tier2 = suite.work.appendingPathComponent("tier2-\(tenant)")
                try FileManager.default.createDirectory(at: tier2, withIntermediateDirectories: true)
                let target: Created = try await suite.post("/api/v1/storage-targets",
                                                           ["name": "tier2", "kind": "filesystem", "location": tier2.path],
                                                           customer: customer.id)
                let _: Created = try await suite.post("/api/v1/rules", [
                    "name": "cold", "priority": 1, "path_globs": ["\(suite.work.path)/host-\(tenant)-*/cold/**"],
                    "min_days_since_modified": 30, "target_id": target.id.uuidString,
                ] as [String: any Sendable], customer: customer.id)
                for index in 0..<Self.hostsPerTenant {
                    let created: Created = try await suite.post("/api/v1/customers/\(customer.id)/hosts",
                                                                ["hostname": "fs-\(tenant)-\(index)-\(suite.run)"])
                    let root = suite.work.appendingPathComponent("host-\(tenant)-\(index)")
                    var host = Host(customer: customer.id, id: created.id, root: root,
                                    environment: suite.agentEnvironment(customer: customer.id, host: created.id,
                                                                        token: try #require(created.agent_token),
                                                                        state: "agent-\(tenant)-\(index)")
                                        .merging(["ALTO_AGENT_SCAN_ROOTS": root.path]) { _, new in new })
                    try FileManager.default.createDirectory(at: root.appendingPathComponent("cold"), withIntermediateDirectories: true)
                    try FileManager.default.createDirectory(at: root.appendingPathComponent("warm"), withIntermediateDirectories: true)
                    for file in 0..<Self.coldFiles {
                        let path = root.appendingPathComponent("cold/report-\(file).bin").path
                        host.cold[path] = try ColdFile.write(path, size: 8192 + 512 * file)
                    }
                    for file in 0..<Self.warmFiles {
                        let path = root.appendingPathComponent("warm/draft-\(file).bin").path
                        host.warm[path] = try ColdFile.write(path, size: 2048 + file, cold: false)
                    }
                    hosts.append(host)
                }
            }
            for host in hosts {
                try await suite.launch("alto-agent", arguments: ["run"], environment: host.environment)
            }

            let ingesters = suite.services("alto-ingest"), planners = suite.services("alto-planner"), actors = suite.services("alto-actor")
            try #require(ingesters.count == 3 && planners.count == 2 && actors.count == 2)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                // Every host scans at once; one ingest replica dies while their batches are being loaded, one planner
                // while the hosts are planned, one actor while jobs are dispatched and their results come back.
                try await withThrowingTaskGroup(of: (Int32, String).self) { scans in
                    for host in hosts {
                        scans.addTask {
                            try await ServiceProcess.run("alto-agent", arguments: ["scan", host.root.path], environment: host.environment)
                        }
                    }
                    try await RunningSuite.waitUntil("a batch is being ingested", timeout: .seconds(60)) {
                        try await RunningSuite.count(postgres, "SELECT count(*) FROM scan_staging.uploads") > 0
                    }
                    await ingesters[0].crash()
                    for try await (status, output) in scans { #expect(status == 0, "\(output)") }
                }
                try await RunningSuite.waitUntil("a plan has made jobs", timeout: .seconds(90)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs") > 0
                }
                await planners[0].crash()
                try await RunningSuite.waitUntil("a job is dispatched", timeout: .seconds(90)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs WHERE state <> 'queued'") > 0
                }
                await actors[0].crash()

                let coldCount = hosts.count * Self.coldFiles
                try await RunningSuite.waitUntil("every cold file is a stub and every job has ended", timeout: .seconds(180)) {
                    let stubs = try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE is_stubbed")
                    let open = try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs WHERE finished_at IS NULL")
                    return stubs == coldCount && open == 0
                }
                try await RunningSuite.waitUntil("every message is published", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM outbox") == 0
                }
                try await check(hosts, postgres)
            }
        }
    }

    /// What the inventory, the jobs, the stub registry and the files on disk say once the work is done.
    private func check(_ hosts: [Host], _ postgres: PostgresConnection) async throws {
        let logger = TestServers.logger
        for host in hosts {
            let files = host.cold.merging(host.warm) { first, _ in first }
            var inventory: [String: Int64] = [:]
            var rows = 0
            for try await (path, size) in try await postgres.query("""
                SELECT file_path, file_size FROM file_inventory WHERE host_id = \(host.id) AND deleted_at IS NULL
                """, logger: logger).decode((String, Int64).self) {
                inventory[path] = size
                rows += 1
            }
            #expect(rows == files.count, "host \(host.id) has \(rows) inventory rows for \(files.count) files")
            #expect(inventory == files.mapValues { Int64($0.count) }, "the inventory of host \(host.id) is its files")
            let totals = "SELECT file_count || ' ' || total_bytes FROM hosts WHERE id = '\(host.id)' AND customer_id = '\(host.customer)'"
            var stored = ""
            for try await row in try await postgres.query(PostgresQuery(unsafeSQL: totals), logger: logger).decode(String.self) { stored = row }
            #expect(stored == "\(files.count) \(files.values.reduce(0) { $0 + $1.count })", "the totals of host \(host.id)")
            for (path, original) in host.cold {
                let record = try #require(try StubFile.record(at: path), "\(path) is a stub")
                #expect(record.hash == ContentHash.of(original), "the stub of \(path) names its original")
            }
            for path in host.warm.keys {
                #expect(try StubFile.record(at: path) == nil, "\(path) is warm and stays")
            }
        }
        #expect(try await RunningSuite.count(postgres, """
            SELECT count(*) FROM (SELECT file_id FROM tiering_job_files GROUP BY file_id HAVING count(*) > 1) AS twice
            """) == 0, "no file is in two jobs")
        #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_job_files") == hosts.count * Self.coldFiles)
        #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_job_files WHERE state <> 'tiered'") == 0)
        #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs WHERE state <> 'done'") == 0)
        #expect(try await RunningSuite.count(postgres, """
            SELECT count(*) FROM (SELECT host_id, file_path FROM stub_registry WHERE state = 'active'
                                  GROUP BY host_id, file_path HAVING count(*) > 1) AS twice
            """) == 0, "no file is tiered twice")
        #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'active'") == hosts.count * Self.coldFiles)
        #expect(try await RunningSuite.count(postgres, """
            SELECT count(*) FROM tiering_jobs AS job JOIN hosts ON hosts.id = job.host_id WHERE hosts.customer_id <> job.customer_id
            """) == 0, "every job is its host's tenant's")
    }
}
