import AltoModels
import AltoTestSupport
import AltoTiering
import Foundation
import PostgresNIO
import Testing

/// A stub a user moves is followed, not taken for deleted: its registry row goes to where its handle finds it and
/// its copy stays. A stub a user deletes (or replaces with another file) has its copy kept for the target's
/// `retention_days` and then purged, with its description, by its host, which first makes sure the stub is not
/// somewhere else.
@Suite(.timeLimit(.minutes(5))) struct StubRetentionTests {
    let faults = TieringFaultTests()
    let reconciliation = ReconciliationTests()

    @Test func movedStubsAreFollowedAndDeletedStubsCopiesArePurgedAfterRetention() async throws {
        let (suite, data, tier2, originals) = try await reconciliation.startWithSanitizer(files: 6, bytes: 200_000)
        try await suite.whileRunning {
            let tenant = try await faults.makeTenant(suite, data: data, tier2: tier2, target: [
                "name": "tier2", "kind": "filesystem", "location": tier2.path, "settings": ["retention_days": "0", "orphan_grace_hours": "0"],
            ])
            try await faults.startAgentAndScan(suite, tenant, data: data)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("every file is a stub", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'active'") == originals.count
                }
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE stub_handle IS NULL") == 0,
                        "every stub's handle is registered")
            }
            let paths = originals.keys.sorted()
            let records = try paths.map { try #require(try StubFile.record(at: $0)) }
            let elsewhere = data.appendingPathComponent("moved away/deeper")
            try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
            // Two stubs moved (to another folder, to another name), one deleted, one deleted and its name reused by
            // a new file, one moved after the registry (an older sanitizer's) took it for deleted a day ago.
            let moved = [elsewhere.appendingPathComponent("first").path, paths[1] + ".renamed", elsewhere.appendingPathComponent("last").path]
            try FileManager.default.moveItem(atPath: paths[0], toPath: moved[0])
            try FileManager.default.moveItem(atPath: paths[1], toPath: moved[1])
            try FileManager.default.removeItem(atPath: paths[2])
            try FileManager.default.removeItem(atPath: paths[3])
            try Data("a new file by that name".utf8).write(to: URL(fileURLWithPath: paths[3]))
            try FileManager.default.moveItem(atPath: paths[5], toPath: moved[2])
            _ = try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await postgres.query("""
                    UPDATE stub_registry SET state = 'deleted', deleted_at = now() - interval '1 day' WHERE file_path = \(paths[5])
                    """, logger: TestServers.logger)
            }

            _ = try await reconciliation.reconcile(suite, tenant, scope: "host")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let rows = try await postgres.query("SELECT file_path, state FROM stub_registry ORDER BY file_path", logger: TestServers.logger)
                    .collect().map { try $0.decode((String, String).self) }
                let state = Dictionary(rows, uniquingKeysWith: { a, _ in a })
                #expect(state[moved[0]] == "active" && state[moved[1]] == "active" && state[paths[0]] == nil && state[paths[1]] == nil,
                        "a moved stub's row follows it: \(rows)")
                #expect(state[moved[2]] == "active" && state[paths[5]] == nil, "a stub taken for deleted but found moved is active again: \(rows)")
                #expect(state[paths[2]] == "deleted" && state[paths[3]] == "deleted", "the deleted stubs are registered so: \(rows)")
                #expect(state[paths[4]] == "active")
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE action = 'stub.moved'") == 3)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE action = 'copy.purge' AND result = 'purged'") == 0,
                        "a stub found deleted in this run is purged by the next one")
            }
            let found = try await reconciliation.findings(suite, tenant)
            #expect(Set(found.map(\.kind)) == ["stub_missing"] && Set(found.compactMap(\.file_path)) == [paths[2], paths[3]],
                    "the deleted stubs are found, the moved ones are not: \(found)")

            _ = try await reconciliation.reconcile(suite, tenant, scope: "host")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let purged = try await postgres.query("SELECT file_path FROM stub_registry WHERE state = 'purged' ORDER BY file_path",
                                                      logger: TestServers.logger).collect().map { try $0.decode(String.self) }
                #expect(purged == [paths[2], paths[3]].sorted())
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE action = 'copy.purge' AND result = 'purged'") == 2)
            }
            for index in [2, 3] {
                #expect(!FileManager.default.fileExists(atPath: records[index].location), "a purged copy is gone")
                #expect(!FileManager.default.fileExists(atPath: records[index].location + ".alto.json"), "and its description with it")
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: paths[3])) == Data("a new file by that name".utf8), "the new file is untouched")
            #expect(try await reconciliation.findings(suite, tenant, query: "?state=open").isEmpty, "nothing is left open")
            for (index, path) in [(0, moved[0]), (1, moved[1]), (5, moved[2]), (4, paths[4])] {
                #expect(FileManager.default.fileExists(atPath: records[index].location), "a moved stub's copy stays")
                let (status, output) = try await ServiceProcess.run("alto-agent", arguments: ["recall", path], environment: tenant.agentEnvironment)
                #expect(status == 0, "\(output)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == originals[paths[index]], "\(path) recalls to its original bytes")
            }
        }
    }

    /// On a bucket, which one host lists for the tenant, the other host's stubs are checked by that host: its
    /// deleted stub is found and its moved one followed, in the same round of runs.
    @Test func everyHostChecksItsOwnStubsOnASharedBucket() async throws {
        let (suite, data, tier2, originals) = try await reconciliation.startWithSanitizer(files: 3, bytes: 100_000)
        let bucket = try await reconciliation.tier(.s3, suite: suite, tier2: tier2)
        defer { bucket.server?.stop() }
        try await suite.whileRunning {
            let first = try await faults.makeTenant(suite, data: data, tier2: tier2, target: bucket.target)
            struct Host: Decodable {
                var id: UUID
                var agent_token: String?
            }
            struct Created: Decodable { var id: UUID }
            let host: Host = try await suite.post("/api/v1/customers/\(first.customer)/hosts", ["hostname": "fs-second-\(suite.run)"])
            let second = suite.work.appendingPathComponent("second")
            let theirs = try faults.generate(second, count: 3, bytes: 100_000)
            let _: Created = try await suite.post("/api/v1/rules", [
                "name": "the second host's old files", "priority": 2, "path_globs": ["\(second.path)/**"],
                "min_days_since_modified": 30, "target_id": first.target.uuidString,
            ] as [String: any Sendable], customer: first.customer)
            let environment = suite.agentEnvironment(customer: first.customer, host: host.id, token: try #require(host.agent_token),
                                                     state: "second-agent-state")
                .merging(["ALTO_AGENT_HEARTBEAT_SECONDS": "1"]) { _, new in new }
            try await faults.startAgentAndScan(suite, first, data: data)
            _ = try await suite.launch("alto-agent", arguments: ["run"], environment: environment)
            let (status, output) = try await ServiceProcess.run("alto-agent", arguments: ["scan", second.path], environment: environment)
            #expect(status == 0, "\(output)")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("every file of both hosts is a stub", timeout: .seconds(90)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'active'") == originals.count + theirs.count
                }
            }
            let paths = theirs.keys.sorted()
            try FileManager.default.removeItem(atPath: paths[0])
            let moved = paths[1] + ".moved"
            try FileManager.default.moveItem(atPath: paths[1], toPath: moved)

            struct Answer: Decodable { var runs: [ReconciliationTests.Run] }
            let answer: Answer = try await suite.post("/api/v1/reconciliations", ["target_id": first.target.uuidString, "verify": "all"],
                                                      customer: first.customer, expecting: 202)
            #expect(Set(answer.runs.map(\.scope)) == ["tenant", "stubs"] && Set(answer.runs.map(\.host_id)) == [first.host, host.id],
                    "one host lists the bucket, the other checks its stubs there: \(answer.runs)")
            for run in answer.runs {
                try await RunningSuite.waitUntil("the run is merged", timeout: .seconds(60)) {
                    let (_, text) = try await suite.send("GET", suite.apiURL + "/api/v1/reconciliations/\(run.id)", body: nil,
                                                         headers: reconciliation.headers(first))
                    return text.contains("\"state\":\"merged\"")
                }
            }
            let found = try await reconciliation.findings(suite, first)
            #expect(found.map(\.kind) == ["stub_missing"] && found.map(\.file_path) == [paths[0]], "\(found)")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let rows = try await postgres.query("SELECT file_path, state FROM stub_registry WHERE host_id = \(host.id) ORDER BY file_path",
                                                    logger: TestServers.logger).collect().map { try $0.decode((String, String).self) }
                let state = Dictionary(rows, uniquingKeysWith: { a, _ in a })
                #expect(state[paths[0]] == "deleted" && state[moved] == "active" && state[paths[2]] == "active" && rows.count == 3, "\(rows)")
            }
        }
    }
}
