import AltoModels
import AltoTestSupport
import AltoTiering
import Foundation
import PostgresNIO
import Testing

/// The sanitizer has the agent list a folder target and check its stubs: a copy deleted, a copy with one byte
/// changed, an object nobody tiered and a stub a user deleted each become their finding in one run, the stub whose
/// copy is gone is marked at risk, and nothing else is found or touched.
@Suite(.timeLimit(.minutes(5))) struct ReconciliationTests {
    let faults = TieringFaultTests()

    struct Finding: Decodable, Equatable {
        var id: Int64
        var kind: String
        var file_path: String?
        var location: String
        var state: String
        var first_seen: String
        var last_seen: String
    }

    struct Run: Decodable {
        var id: UUID
        var host_id: UUID
        var scope: String
    }

    /// Asks for a run that reads every copy back, and waits until the sanitizer merged it.
    func reconcile(_ suite: RunningSuite, _ tenant: TieringFaultTests.Tenant) async throws -> UUID {
        struct Answer: Decodable { var runs: [Run] }
        let answer: Answer = try await suite.post("/api/v1/reconciliations", ["target_id": tenant.target.uuidString, "verify": "all"],
                                                  customer: tenant.customer, expecting: 202)
        #expect(answer.runs.count == 1 && answer.runs.first?.scope == "host" && answer.runs.first?.host_id == tenant.host,
                "a folder target is listed by the host whose copies it holds")
        let run = try #require(answer.runs.first).id
        try await RunningSuite.waitUntil("the run is merged", timeout: .seconds(60)) {
            let (_, text) = try await suite.send("GET", suite.apiURL + "/api/v1/reconciliations/\(run)", body: nil, headers: headers(tenant))
            return text.contains("\"state\":\"merged\"")
        }
        return run
    }

    func headers(_ tenant: TieringFaultTests.Tenant) -> [String: String] {
        RunningSuite.adminHeaders.merging(["X-Alto-Customer-Id": tenant.customer.uuidString]) { _, new in new }
    }

    func findings(_ suite: RunningSuite, _ tenant: TieringFaultTests.Tenant, query: String = "") async throws -> [Finding] {
        struct Page: Decodable { var findings: [Finding] }
        let (status, text) = try await suite.send("GET", suite.apiURL + "/api/v1/findings" + query, body: nil, headers: headers(tenant))
        #expect(status == 200, "\(text)")
        return try JSONDecoder().decode(Page.self, from: Data(text.utf8)).findings
    }

    @Test func eachDamageIsItsFindingAndNothingElseIsTouched() async throws {
        let (suite, data, tier2, originals) = try await faults.start(
            ["ALTO_SANITIZER_INTERVAL_SECONDS": "0", "ALTO_SANITIZER_ORPHAN_MIN_AGE_SECONDS": "0"], files: 6, bytes: 300_000,
            services: ["alto-api", "alto-ingest", "alto-planner", "alto-actor", "alto-sanitizer"])
        try await suite.whileRunning {
            let tenant = try await faults.makeTenant(suite, data: data, tier2: tier2, settings: ["orphan_grace_hours": "0"])
            try await faults.startAgentAndScan(suite, tenant, data: data)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("every file is a stub", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'active'") == originals.count
                }
            }
            let clean = try await reconcile(suite, tenant)
            #expect(try await findings(suite, tenant).isEmpty, "a healthy target has no findings")

            let paths = originals.keys.sorted()
            let records = try paths.map { try #require(try StubFile.record(at: $0)) }
            // The damage: one copy deleted, one byte of another changed, an object no job wrote, a stub deleted.
            try FileManager.default.removeItem(atPath: records[0].location)
            let damaged = try FileHandle(forUpdatingAtPath: records[1].location).unwrap()
            try damaged.seek(toOffset: 5000)
            let byte = try damaged.read(upToCount: 1) ?? Data([0])
            try damaged.seek(toOffset: 5000)
            damaged.write(Data([byte[0] ^ 0x01]))
            try damaged.close()
            let stray = (records[2].location as NSString).deletingLastPathComponent + "/999999-left by a dead job.bin"
            try Data("stray".utf8).write(to: URL(fileURLWithPath: stray))
            try FileManager.default.removeItem(atPath: paths[3])
            let untouched = try [4, 5].map { (paths[$0], try Data(contentsOf: URL(fileURLWithPath: records[$0].location))) }

            let run = try await reconcile(suite, tenant)
            #expect(run != clean)
            let found = try await findings(suite, tenant)
            let byKind = Dictionary(grouping: found, by: \.kind)
            #expect(Set(byKind.keys) == ["missing_copy", "hash_drift", "orphan", "stub_missing"], "\(found)")
            #expect(byKind["missing_copy"]?.map(\.location) == [records[0].location])
            #expect(byKind["hash_drift"]?.map(\.location) == [records[1].location])
            #expect(byKind["orphan"]?.map(\.location) == [stray])
            #expect(byKind["stub_missing"]?.map(\.file_path) == [paths[3]])
            #expect(found.count == 4, "one finding each, nothing else: \(found)")
            #expect(byKind["stub_missing"]?.first?.state == "repaired", "a stub a user deleted: the registry says so, its copy is kept")
            #expect(FileManager.default.fileExists(atPath: records[3].location))
            #expect(Set(found.filter { $0.kind != "stub_missing" }.map(\.state)) == ["open"])

            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let atRisk = try await postgres.query("SELECT file_path FROM stub_registry WHERE at_risk ORDER BY file_path",
                                                      logger: TestServers.logger).collect().map { try $0.decode(String.self) }
                #expect(atRisk == [paths[0], paths[1]].sorted(), "the stubs whose only copy is gone or damaged are at risk")
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE action = 'stub.at_risk'") == 2)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'deleted' AND deleted_at IS NOT NULL") == 1)
            }
            for (path, copy) in untouched {
                #expect(try StubFile.record(at: path) != nil, "an undamaged stub stays a stub")
                let record = try #require(try StubFile.record(at: path))
                #expect(try Data(contentsOf: URL(fileURLWithPath: record.location)) == copy, "and its copy is as it was")
            }

            // The next run deletes the orphan, past its grace (none here), and says so; a finding seen again keeps its
            // row; an admin accepts one.
            _ = try await reconcile(suite, tenant)
            let again = try await findings(suite, tenant)
            let orphan = try #require(again.first { $0.kind == "orphan" })
            #expect(orphan.state == "repaired", "the orphan is deleted and its finding repaired")
            #expect(!FileManager.default.fileExists(atPath: stray))
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let repairs = try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE action = 'finding.repair' AND result = 'deleted'")
                #expect(repairs == 1, "the deletion is in the audit trail")
            }
            let missing = try #require(again.first { $0.kind == "missing_copy" })
            #expect(missing.id == byKind["missing_copy"]?.first?.id && missing.state == "open" && missing.last_seen > missing.first_seen)
            let (status, text) = try await suite.send("PATCH", suite.apiURL + "/api/v1/findings/\(missing.id)",
                                                      body: Data(#"{"state":"accepted"}"#.utf8),
                                                      headers: headers(tenant).merging(["Content-Type": "application/json"]) { _, new in new })
            #expect(status == 200, "\(text)")
            #expect(try await findings(suite, tenant, query: "?state=accepted").map(\.id) == [missing.id])
            for (path, _) in untouched {
                let (status, output) = try await ServiceProcess.run("alto-agent", arguments: ["recall", path], environment: tenant.agentEnvironment)
                #expect(status == 0, "\(output)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == originals[path], "\(path) recalls to its original bytes")
            }
        }
    }
}

private extension Optional {
    func unwrap() throws -> Wrapped {
        guard let self else { throw TestFailure("nothing there") }
        return self
    }
}
