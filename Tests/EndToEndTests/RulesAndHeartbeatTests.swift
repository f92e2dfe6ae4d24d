import AltoModels
import AltoTestSupport
import Foundation
import PostgresNIO
import Testing

/// The admin's and the agent's side of planning through the real API: every rejected rule names its field, and a
/// heartbeat that takes a volume over a high watermark queues a plan that frees it down to the low one.
@Suite(.timeLimit(.minutes(5))) struct RulesAndHeartbeatTests {
    struct Created: Decodable { var id: UUID }

    static func error(_ text: String) -> (field: String?, message: String?) {
        let body = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
        let detail = body?["error"] as? [String: Any]
        return (detail?["field"] as? String, detail?["message"] as? String)
    }

    @Test func everyRejectedRuleGetsA400NamingItsField() async throws {
        let suite = try await RunningSuite(["alto-api"])
        try await suite.whileRunning {
            let (customer, _, _) = try await suite.enrol("rules-\(suite.run)")
            let target: Created = try await suite.post("/api/v1/storage-targets",
                                                       ["name": "tier2", "kind": "filesystem", "location": "/srv/tier2"], customer: customer)
            let base: [String: any Sendable] = ["name": "ok", "priority": 1, "target_id": target.id.uuidString]
            let _: Created = try await suite.post("/api/v1/rules", base, customer: customer)
            let cases: [([String: any Sendable], String)] = [
                (["path_regex": "/data/(unclosed"], "path_regex"),
                (["min_size": 10, "max_size": 5], "min_size"),
                (["target_id": UUID().uuidString], "target_id"),
                (["name": "other", "priority": 1], "priority"),
                (["name": "ok", "priority": 2], "name"),
                (["name": " "], "name"),
                (["priority": -1, "name": "negative"], "priority"),
                (["min_days_since_modified": -3], "min_days_since_modified"),
                (["include_extensions": ["pdf"], "exclude_extensions": ["PDF"]], "exclude_extensions"),
                (["schedule": ["start": "25:00", "end": "06:00"]], "schedule.start"),
                (["watermark": ["high_percent": 80, "low_percent": 90]], "watermark.low_percent"),
                (["max_files_per_run": 0], "max_files_per_run"),
            ]
            for (index, (change, field)) in cases.enumerated() {
                let body = base.merging(["name": "rule \(index)", "priority": 100 + index]) { _, new in new }
                    .merging(change) { _, new in new }
                let json = try JSONSerialization.data(withJSONObject: body)
                let (status, text) = try await suite.send(suite.apiURL + "/api/v1/rules", body: json, headers: RunningSuite.adminHeaders.merging([
                    "Content-Type": "application/json", "X-Alto-Customer-Id": customer.uuidString,
                ]) { _, new in new })
                #expect(status == 400, "\(change): \(text)")
                #expect(Self.error(text).field == field, "\(change): \(text)")
                #expect(Self.error(text).message?.isEmpty == false)
            }
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let rules = try await RunningSuite.count(postgres, "SELECT count(*) FROM rules")
                #expect(rules == 1, "nothing half-applied")
            }
        }
    }

    @Test func aHeartbeatOverTheHighWatermarkQueuesAPlanThatStopsAtTheLowWatermark() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-planner"], environment: ["ALTO_PLANNER_SCHEDULE_SECONDS": "0"])
        try await suite.whileRunning {
            let (customer, host, token) = try await suite.enrol("watermark-\(suite.run)")
            let target: Created = try await suite.post("/api/v1/storage-targets",
                                                       ["name": "tier2", "kind": "filesystem", "location": "/srv/tier2"], customer: customer)
            let _: Created = try await suite.post("/api/v1/rules", [
                "name": "keep /srv/share under 90 %", "priority": 1, "path_globs": ["/srv/share/**"],
                "watermark": ["high_percent": 90, "low_percent": 80], "target_id": target.id.uuidString,
            ] as [String: any Sendable], customer: customer)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                // 100 files of 1 MiB, the oldest first by id; the volume of 100 MiB is 95 % used, so 15 files must go.
                try await postgres.query("SELECT inventory.ensure_partition(\(customer), \(host))", logger: TestServers.logger)
                try await postgres.query("""
                    INSERT INTO file_inventory (customer_id, host_id, file_path, file_size, last_modified, file_extension)
                    SELECT \(customer), \(host), '/srv/share/f' || n || '.bin', 1048576, now() - n * interval '1 day', 'bin'
                    FROM generate_series(1, 100) AS n
                    """, logger: TestServers.logger)
                let agentHeaders = ["Authorization": "Bearer \(token)", "Content-Type": "application/json"]
                let url = suite.apiURL + "/api/v1/hosts/\(host)/heartbeat"
                func heartbeat(usedMiB: Int, headers: [String: String] = agentHeaders) async throws -> (Int, String) {
                    let body = AgentHeartbeat(agentVersion: "test", volumes: [
                        ManagedVolume(mountPoint: "/srv/share", totalBytes: 100 << 20, usedBytes: Int64(usedMiB) << 20),
                    ])
                    return try await suite.send(url, body: try AltoJSON.encoder().encode(body), headers: headers)
                }

                let (belowStatus, below) = try await heartbeat(usedMiB: 50)
                #expect(belowStatus == 200, "\(below)")
                #expect(!below.contains("plan_id"))
                let (status, crossed) = try await heartbeat(usedMiB: 95)
                #expect(status == 200, "\(crossed)")
                let planText = try #require((try JSONSerialization.jsonObject(with: Data(crossed.utf8)) as? [String: Any])?["plan_id"] as? String)
                let planID = try #require(UUID(uuidString: planText))
                try await RunningSuite.waitUntil("the watermark plan is written", timeout: .seconds(30)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM plan_runs WHERE id = '\(planID)' AND reason = 'watermark'") == 1
                }
                #expect(try await RunningSuite.count(postgres, "SELECT files_planned FROM plan_runs WHERE id = '\(planID)'") == 15)
                #expect(try await RunningSuite.count(postgres, """
                    SELECT count(*) FROM tiering_job_files AS job_file JOIN file_inventory AS file ON file.id = job_file.file_id
                    WHERE file.file_path IN (SELECT '/srv/share/f' || n || '.bin' FROM generate_series(86, 100) AS n)
                    """) == 15, "the coldest files go first")

                let (_, still) = try await heartbeat(usedMiB: 96)
                #expect(!still.contains("plan_id"), "a volume that stays above triggers no second plan")
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM hosts WHERE id = '\(host)' AND last_heartbeat_at IS NOT NULL") == 1)

                let (wrongToken, _) = try await heartbeat(usedMiB: 50, headers: agentHeaders.merging(["Authorization": "Bearer nope"]) { _, new in new })
                #expect(wrongToken == 401)
                let (invalid, text) = try await heartbeat(usedMiB: 200)
                #expect(invalid == 400)
                #expect(Self.error(text).field == "volumes[0].used_bytes", "\(text)")
            }
        }
    }
}
