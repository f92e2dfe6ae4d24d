import AltoModels
import AltoTestSupport
import AltoTiering
import Foundation
import PostgresNIO
import Testing

/// Faults with the whole suite running as processes. After each, every original is either untouched or a stub whose
/// tier-2 copy hashes right, and recalling every stub gives back the original bytes: nothing lost, nothing half-done.
@Suite(.serialized, .timeLimit(.minutes(5))) struct TieringFaultTests {
    struct Created: Decodable {
        var id: UUID
    }

    struct Recalls: Decodable {
        struct Recall: Decodable {
            var recall_id: UUID
            var files: Int
        }
        var recalls: [Recall]
    }

    /// A tenant with one host, a filesystem target and a rule that takes everything under `data`, and the agent's
    /// environment.
    struct Tenant {
        var customer: UUID
        var host: UUID
        var target: UUID
        var rule: UUID
        var agentEnvironment: [String: String]
    }

    /// - Parameter described: the target to make instead of a folder at `tier2`.
    func makeTenant(_ suite: RunningSuite, data: URL, tier2: URL, bandwidth: Int64? = nil,
                    target described: [String: any Sendable]? = nil) async throws -> Tenant {
        let (customer, host, token) = try await suite.enrol("faults-\(suite.run)")
        var target: [String: any Sendable] = described ?? ["name": "tier2", "kind": "filesystem", "location": tier2.path]
        if let bandwidth { target["bandwidth_bytes_per_second"] = bandwidth }
        let created: Created = try await suite.post("/api/v1/storage-targets", target, customer: customer)
        let rule: Created = try await suite.post("/api/v1/rules", [
            "name": "everything old", "priority": 1, "path_globs": ["\(data.path)/**"],
            "min_days_since_modified": 30, "target_id": created.id.uuidString,
        ] as [String: any Sendable], customer: customer)
        let environment = suite.agentEnvironment(customer: customer, host: host, token: token)
            .merging(["ALTO_AGENT_HEARTBEAT_SECONDS": "1", "ALTO_AGENT_PARALLEL_FILES": "2"]) { _, new in new }
        return Tenant(customer: customer, host: host, target: created.id, rule: rule.id, agentEnvironment: environment)
    }

    /// The central services running, old files of random bytes under `<work>/data`, and, when `tierReady`, an
    /// empty filesystem tier at `<work>/tier2`.
    func start(_ environment: [String: String] = [:], files count: Int, bytes: Int, tierReady: Bool = true,
               services: [String] = ["alto-api", "alto-ingest", "alto-planner", "alto-actor"]) async throws
        -> (suite: RunningSuite, data: URL, tier2: URL, originals: [String: Data]) {
        let suite = try await RunningSuite(services, environment: environment)
        let data = suite.work.appendingPathComponent("data")
        let tier2 = suite.work.appendingPathComponent("tier2")
        if tierReady { try FileManager.default.createDirectory(at: tier2, withIntermediateDirectories: true) }
        return (suite, data, tier2, try generate(data, count: count, bytes: bytes))
    }

    /// Starts the tenant's agent and scans `data`, which plans and dispatches the tiering job.
    @discardableResult
    func startAgentAndScan(_ suite: RunningSuite, _ tenant: Tenant, data: URL) async throws -> ServiceProcess {
        let agent = try await suite.launch("alto-agent", arguments: ["run"], environment: tenant.agentEnvironment)
        let (status, output) = try await ServiceProcess.run("alto-agent", arguments: ["scan", data.path], environment: tenant.agentEnvironment)
        #expect(status == 0, "\(output)")
        return agent
    }

    /// Old files of random bytes under `data`, by path.
    func generate(_ data: URL, count: Int, bytes: Int) throws -> [String: Data] {
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        var originals: [String: Data] = [:]
        for index in 0..<count {
            let path = data.appendingPathComponent("file \(index) ü.bin").path
            var words = [UInt64](repeating: 0, count: (bytes + 7) / 8)
            for index in words.indices { words[index] = UInt64.random(in: .min ... .max) }
            let content = words.withUnsafeBytes { Data($0.prefix(bytes)) }
            try content.write(to: URL(fileURLWithPath: path))
            var times = [timespec(tv_sec: 1_500_000_000, tv_nsec: 0), timespec(tv_sec: 1_500_000_000, tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
            originals[path] = content
        }
        return originals
    }

    /// Every original is untouched or a stub whose copy hashes to the original's hash; returns the stubs.
    @discardableResult
    func expectNothingLost(_ originals: [String: Data], of tenant: Tenant, copyPath: (String) -> String = { $0 }) async throws -> [String] {
        var stubs: [String] = []
        for (path, content) in originals.sorted(by: { $0.key < $1.key }) {
            if let record = try StubFile.record(at: path) {
                #expect(record.hash == ContentHash.of(content), "the stub of \(path) names the original's hash")
                let copy = try await TierTestKeys.content(of: copyPath(record.location), record: record, environment: tenant.agentEnvironment)
                #expect(ContentHash.of(copy) == record.hash, "the tier-2 copy of \(path) opens with the tenant's key and hashes right")
                stubs.append(path)
            } else {
                #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == content, "\(path) is untouched")
            }
        }
        return stubs
    }

    /// Recalls every stub through `POST /api/v1/recalls` and expects the original bytes back.
    func expectRecallsGiveOriginals(_ suite: RunningSuite, _ tenant: Tenant, _ originals: [String: Data],
                                    postgres: PostgresConnection, copyPath: (String) -> String = { $0 }) async throws {
        let stubs = try await expectNothingLost(originals, of: tenant, copyPath: copyPath)
        let recalls: Recalls = try await suite.post("/api/v1/recalls", ["rule_id": tenant.rule.uuidString], customer: tenant.customer,
                                                    expecting: 202)
        #expect(recalls.recalls.map(\.files).reduce(0, +) == stubs.count)
        try await RunningSuite.waitUntil("the recalls are done", timeout: .seconds(60)) {
            try await RunningSuite.count(postgres, "SELECT count(*) FROM recall_jobs WHERE state <> 'done'") == 0
        }
        for (path, content) in originals {
            #expect(try StubFile.record(at: path) == nil, "\(path) was recalled")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == content, "\(path) has its original bytes")
        }
        #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE is_stubbed") == 0)
        #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE action = 'file.recall'") == originals.count)
    }

    @Test func anUnavailableTierPutsTheJobBackUntilItReturns() async throws {
        let (suite, data, tier2, originals) = try await start(["ALTO_ACTOR_RETRY_SECONDS": "2", "ALTO_ACTOR_SWEEP_SECONDS": "1"],
                                                              files: 5, bytes: 256 << 10, tierReady: false)
        try await suite.whileRunning {
            let tenant = try await makeTenant(suite, data: data, tier2: tier2)
            try await startAgentAndScan(suite, tenant, data: data)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("the job is put back", timeout: .seconds(30)) {
                    try await RunningSuite.count(postgres, """
                        SELECT count(*) FROM tiering_jobs WHERE state = 'queued' AND state_reason LIKE '%not reachable%'
                          AND dispatch_count >= 1
                        """) == 1
                }
                try await expectNothingLost(originals, of: tenant)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_job_files WHERE state = 'pending'") == 5)

                try FileManager.default.createDirectory(at: tier2, withIntermediateDirectories: true)
                try await RunningSuite.waitUntil("the job is done once the tier is back", timeout: .seconds(30)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs WHERE state = 'done'") == 1
                }
                #expect(try await expectNothingLost(originals, of: tenant).count == 5)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'active'") == 5)

                let (wrong, _) = try await suite.send(suite.apiURL + "/api/v1/recalls", body: Data(#"{"host_id":"\#(tenant.host)","paths":["/nowhere"]}"#.utf8),
                                                      headers: RunningSuite.adminHeaders.merging(["X-Alto-Customer-Id": tenant.customer.uuidString,
                                                                                                  "Content-Type": "application/json"]) { _, n in n })
                #expect(wrong == 400, "a path that is not a stub is refused")
                try await expectRecallsGiveOriginals(suite, tenant, originals, postgres: postgres)
            }
        }
    }

    @Test func anAgentKilledMidUploadLosesNothingAndFinishesOnRestart() async throws {
        let (suite, data, tier2, originals) = try await start(["ALTO_ACTOR_SWEEP_SECONDS": "1", "ALTO_ACTOR_AGENT_TIMEOUT_SECONDS": "8",
                                                               "ALTO_AGENT_HEARTBEAT_SECONDS": "5"], files: 6, bytes: 24 << 20)
        try await suite.whileRunning {
            let tenant = try await makeTenant(suite, data: data, tier2: tier2, bandwidth: 40 << 20)
            let agent = try await startAgentAndScan(suite, tenant, data: data)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("a copy is being written", timeout: .seconds(30)) {
                    let partials = FileManager.default.enumerator(atPath: tier2.path)?.allObjects as? [String] ?? []
                    return partials.contains { $0.hasSuffix(".partial") }
                }
                await agent.crash()
                try await expectNothingLost(originals, of: tenant)
                try await RunningSuite.waitUntil("the silent agent's job is held", timeout: .seconds(30)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs WHERE state = 'held'") == 1
                }

                try await suite.launch("alto-agent", arguments: ["run"], environment: tenant.agentEnvironment)
                try await RunningSuite.waitUntil("the job, redelivered to the agent back, finishes", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs WHERE state = 'done'") == 1
                }
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry") == 6, "each file tiered once")
                #expect(try await expectNothingLost(originals, of: tenant).count == 6)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE is_stubbed") == 6)
                try await expectRecallsGiveOriginals(suite, tenant, originals, postgres: postgres)
            }
        }
    }

    @Test func aCorruptedCopyFailsItsRecallAndTheFileStaysAStub() async throws {
        let (suite, data, tier2, originals) = try await start(files: 3, bytes: 512 << 10)
        try await suite.whileRunning {
            let tenant = try await makeTenant(suite, data: data, tier2: tier2)
            try await startAgentAndScan(suite, tenant, data: data)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("the files are stubs", timeout: .seconds(30)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE is_stubbed") == 3
                }
                let stubs = try await expectNothingLost(originals, of: tenant)
                let victim = try #require(stubs.first)
                let copy = try #require(try StubFile.record(at: victim)).location
                let handle = try FileHandle(forUpdating: URL(fileURLWithPath: copy))
                try handle.seek(toOffset: 4096)
                let byte = try #require(try handle.read(upToCount: 1)?.first)
                try handle.seek(toOffset: 4096)
                try handle.write(contentsOf: Data([byte ^ 0xFF]))
                try handle.close()

                let _: Recalls = try await suite.post("/api/v1/recalls", ["rule_id": tenant.rule.uuidString], customer: tenant.customer,
                                                      expecting: 202)
                try await RunningSuite.waitUntil("the recall finishes", timeout: .seconds(30)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM recall_jobs WHERE state = 'partially_done'") == 1
                }
                #expect(try StubFile.record(at: victim) != nil, "the file whose copy is corrupt stays a stub")
                #expect(try StubFile.allocatedBytes(victim) < 512 << 10, "with its data still released, not half-filled")
                #expect(try await RunningSuite.count(postgres, """
                    SELECT count(*) FROM recall_job_files WHERE state = 'failed' AND reason LIKE '%does not authenticate%'
                    """) == 1)
                for (path, content) in originals where path != victim {
                    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == content)
                }
            }
        }
    }

    @Test func aHostRunsNoMoreJobsAtOnceThanItsLimit() async throws {
        let (suite, data, tier2, originals) = try await start(["ALTO_ACTOR_HOST_CONCURRENT_JOBS": "1", "ALTO_ACTOR_SWEEP_SECONDS": "1",
                                                               "ALTO_PLANNER_MAX_FILES_PER_JOB": "2"], files: 6, bytes: 4 << 20)
        try await suite.whileRunning {
            let tenant = try await makeTenant(suite, data: data, tier2: tier2, bandwidth: 16 << 20)
            try await startAgentAndScan(suite, tenant, data: data)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                var most = 0
                try await RunningSuite.waitUntil("the three jobs are done one after another", timeout: .seconds(60)) {
                    most = max(most, try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs WHERE state IN ('dispatched', 'running')"))
                    return try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs WHERE state = 'done'") == 3
                }
                #expect(most == 1, "at most one job of the host was in flight at a time")
                #expect(try await expectNothingLost(originals, of: tenant).count == 6)
            }
        }
    }

    @Test func anSMBServerStoppedMidJobLosesNothingAndTheJobResumes() async throws {
        let (suite, data, _, originals) = try await start(["ALTO_ACTOR_RETRY_SECONDS": "2", "ALTO_ACTOR_SWEEP_SECONDS": "1"],
                                                            files: 6, bytes: 16 << 20, tierReady: false)
        let samba = try await SambaServer.start(in: suite.work)
        let port = samba.port
        let shareFolder = suite.work.appendingPathComponent("samba/share").path
        let onServer: @Sendable (String) -> String = { location in location.replacingOccurrences(of: "smb://127.0.0.1:\(port)/tier2", with: shareFolder) }
        try await suite.whileRunning {
            let (customer, host, token) = try await suite.enrol("smb-\(suite.run)")
            let target: Created = try await suite.post("/api/v1/storage-targets", [
                "name": "nas", "kind": "smb", "location": "//127.0.0.1/tier2/tiered", "bandwidth_bytes_per_second": 8 << 20,
                "settings": ["username": "root", "port": "\(port)", "password": "secret"],
            ] as [String: any Sendable], customer: customer)
            let rule: Created = try await suite.post("/api/v1/rules", [
                "name": "everything old", "priority": 1, "path_globs": ["\(data.path)/**"], "min_days_since_modified": 30,
                "target_id": target.id.uuidString,
            ] as [String: any Sendable], customer: customer)
            let tenant = Tenant(customer: customer, host: host, target: target.id, rule: rule.id,
                                agentEnvironment: suite.agentEnvironment(customer: customer, host: host, token: token))
            try await startAgentAndScan(suite, tenant, data: data)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let share = suite.work.appendingPathComponent("samba/share").path
                try await RunningSuite.waitUntil("copies are being written to the NAS", timeout: .seconds(30)) {
                    let written = FileManager.default.enumerator(atPath: share)?.allObjects as? [String] ?? []
                    return written.contains { $0.hasSuffix(".bin") } && written.contains { $0.hasSuffix(".partial") }
                }
                samba.kill()
                try await RunningSuite.waitUntil("the job is put back", timeout: .seconds(30)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs WHERE state = 'queued' AND dispatch_count >= 1") == 1
                }
                try await expectNothingLost(originals, of: tenant, copyPath: onServer)
                let restarted = try await SambaServer.start(in: suite.work, port: port)
                defer { restarted.stop() }
                try await RunningSuite.waitUntil("the job finishes once the NAS is back", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs WHERE state = 'done'") == 1
                }
                #expect(try await expectNothingLost(originals, of: tenant, copyPath: onServer).count == 6)
                try await expectRecallsGiveOriginals(suite, tenant, originals, postgres: postgres, copyPath: onServer)
            }
        }
        samba.stop()
    }
}

#if canImport(Glibc)
import Glibc
#endif
