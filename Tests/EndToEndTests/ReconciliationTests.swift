import AltoModels
import AltoTestSupport
import AltoTiering
import Foundation
import PostgresNIO
import Testing

/// The sanitizer has the agent list a target (a folder, a Samba share, a moto bucket) and check its stubs: a copy
/// deleted, a copy with one byte changed, an object nobody tiered and a stub a user deleted each become their finding
/// in one run, the stubs whose copy is gone or damaged are marked at risk, the repairs follow the target's settings,
/// and nothing else is found or touched.
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
        var detail: String?
    }

    struct Run: Decodable {
        var id: UUID
        var host_id: UUID
        var scope: String
    }

    /// The suite with a sanitizer that runs only when asked and takes any object for old enough to be an orphan.
    func startWithSanitizer(files: Int, bytes: Int) async throws -> (suite: RunningSuite, data: URL, tier2: URL, originals: [String: Data]) {
        try await faults.start(["ALTO_SANITIZER_INTERVAL_SECONDS": "0", "ALTO_SANITIZER_ORPHAN_MIN_AGE_SECONDS": "0"], files: files, bytes: bytes,
                               services: ["alto-api", "alto-ingest", "alto-planner", "alto-actor", "alto-sanitizer"])
    }

    /// Asks for a run that reads every copy back, and waits until the sanitizer merged it.
    func reconcile(_ suite: RunningSuite, _ tenant: TieringFaultTests.Tenant, scope: String) async throws -> UUID {
        struct Answer: Decodable { var runs: [Run] }
        let answer: Answer = try await suite.post("/api/v1/reconciliations", ["target_id": tenant.target.uuidString, "verify": "all"],
                                                  customer: tenant.customer, expecting: 202)
        #expect(answer.runs.count == 1 && answer.runs.first?.scope == scope && answer.runs.first?.host_id == tenant.host,
                "a folder is listed by each host for its own copies, a share or bucket by one host for the tenant")
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

    /// A target of one kind with the test's hands on it: what a failing disk, a careless admin or a dead job does to
    /// tier-2, done from outside Alto.
    struct Tier: Sendable {
        var target: [String: any Sendable]
        var remove: @Sendable (String) async throws -> Void
        var flipByte: @Sendable (String, Int) async throws -> Void
        /// Puts an object beside the copy at a location, and returns its location.
        var plant: @Sendable (String) async throws -> String
        var contents: @Sendable (String) async throws -> Data?
        var server: PeerServer?
    }

    enum Kind: String, CaseIterable, Sendable {
        case filesystem, smb, s3
    }

    static func folder(mapping toLocal: @escaping @Sendable (String) -> String) -> (remove: @Sendable (String) async throws -> Void,
                                                                                      flip: @Sendable (String, Int) async throws -> Void,
                                                                                      plant: @Sendable (String) async throws -> String,
                                                                                      contents: @Sendable (String) async throws -> Data?) {
        ({ location in try FileManager.default.removeItem(atPath: toLocal(location)) },
         { location, offset in
             let handle = try FileHandle(forUpdatingAtPath: toLocal(location)).unwrap()
             try handle.seek(toOffset: UInt64(offset))
             let byte = try handle.read(upToCount: 1) ?? Data([0])
             try handle.seek(toOffset: UInt64(offset))
             handle.write(Data([byte[0] ^ 0x01]))
             try handle.close()
         },
         { location in
             let stray = Self.stray(beside: location)
             try Data("stray".utf8).write(to: URL(fileURLWithPath: toLocal(stray)))
             return stray
         },
         { location in FileManager.default.contents(atPath: toLocal(location)) })
    }

    /// An object's location in the folder of the copy at `location` (a URL, which path functions would mangle).
    static func stray(beside location: String) -> String {
        String(location[..<(location.lastIndex(of: "/") ?? location.endIndex)]) + "/999999-left by a dead job.bin"
    }

    func tier(_ kind: Kind, suite: RunningSuite, tier2: URL) async throws -> Tier {
        switch kind {
        case .filesystem:
            let hands = Self.folder { $0 }
            return Tier(target: ["name": "tier2", "kind": "filesystem", "location": tier2.path, "settings": ["orphan_grace_hours": "0"]],
                        remove: hands.remove, flipByte: hands.flip, plant: hands.plant, contents: hands.contents)
        case .smb:
            let server = try await SambaServer.start(in: suite.work)
            let share = suite.work.appendingPathComponent("samba/share").path
            try FileManager.default.createDirectory(atPath: share + "/tiered", withIntermediateDirectories: true)
            let prefix = "smb://127.0.0.1:\(server.port)/tier2"
            let hands = Self.folder { share + $0.dropFirst(prefix.count) }
            return Tier(target: ["name": "nas", "kind": "smb", "location": "//127.0.0.1/tier2/tiered",
                                 "settings": ["username": "root", "port": "\(server.port)", "password": "secret", "orphan_grace_hours": "0"]],
                        remove: hands.remove, flipByte: hands.flip, plant: hands.plant, contents: hands.contents, server: server)
        case .s3:
            let server = try await PeerServer(["python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", "{port}"], name: "moto", logFolder: suite.work)
            let port = server.port
            @Sendable func boto3(_ body: String) async throws -> String {
                try await PeerServer.python("""
                    import boto3, sys
                    s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:\(port)', region_name='us-east-1',
                                      aws_access_key_id='AKIARECON', aws_secret_access_key='recon-secret')
                    \(body)
                    """)
            }
            _ = try await boto3("s3.create_bucket(Bucket='alto-recon')")
            @Sendable func key(_ location: String) -> String { String(location.dropFirst("s3://alto-recon/".count)) }
            return Tier(target: ["name": "bucket", "kind": "s3", "location": "s3://alto-recon/tier2",
                                 "settings": ["endpoint": "http://127.0.0.1:\(port)", "access_key_id": "AKIARECON",
                                              "secret_access_key": "recon-secret", "orphans": "keep", "orphan_grace_hours": "0"]],
                        remove: { location in _ = try await boto3("s3.delete_object(Bucket='alto-recon', Key=\(String(reflecting: key(location))))") },
                        flipByte: { location, offset in
                            _ = try await boto3("""
                                body = bytearray(s3.get_object(Bucket='alto-recon', Key=\(String(reflecting: key(location))))['Body'].read())
                                body[\(offset)] ^= 1
                                s3.put_object(Bucket='alto-recon', Key=\(String(reflecting: key(location))), Body=bytes(body))
                                """)
                        },
                        plant: { location in
                            let stray = Self.stray(beside: location)
                            _ = try await boto3("s3.put_object(Bucket='alto-recon', Key=\(String(reflecting: key(stray))), Body=b'stray')")
                            return stray
                        },
                        contents: { location in
                            let hex = try await boto3("""
                                try:
                                    print(s3.get_object(Bucket='alto-recon', Key=\(String(reflecting: key(location))))['Body'].read().hex())
                                except s3.exceptions.NoSuchKey:
                                    print('gone')
                                """).trimmingCharacters(in: .whitespacesAndNewlines)
                            guard hex != "gone" else { return nil }
                            var bytes: [UInt8] = []
                            var index = hex.startIndex
                            while index < hex.endIndex {
                                let next = hex.index(index, offsetBy: 2)
                                bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
                                index = next
                            }
                            return Data(bytes)
                        },
                        server: server)
        }
    }

    @Test(arguments: Kind.allCases) func eachDamageIsItsFindingAndNothingElseIsTouched(_ kind: Kind) async throws {
        let (suite, data, tier2, originals) = try await startWithSanitizer(files: 6, bytes: 300_000)
        let tier = try await tier(kind, suite: suite, tier2: tier2)
        defer { tier.server?.stop() }
        try await suite.whileRunning {
            let tenant = try await faults.makeTenant(suite, data: data, tier2: tier2, target: tier.target)
            try await faults.startAgentAndScan(suite, tenant, data: data)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("every file is a stub", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'active'") == originals.count
                }
            }
            let clean = try await reconcile(suite, tenant, scope: kind == .filesystem ? "host" : "tenant")
            #expect(try await findings(suite, tenant).isEmpty, "a healthy target has no findings")

            let paths = originals.keys.sorted()
            let records = try paths.map { try #require(try StubFile.record(at: $0)) }
            // The damage: one copy deleted, one byte of another changed, an object no job wrote, a stub deleted.
            try await tier.remove(records[0].location)
            try await tier.flipByte(records[1].location, 5000)
            let stray = try await tier.plant(records[2].location)
            try FileManager.default.removeItem(atPath: paths[3])
            var untouched: [(String, Data)] = []
            for index in [4, 5] { untouched.append((paths[index], try #require(try await tier.contents(records[index].location)))) }

            let run = try await reconcile(suite, tenant, scope: kind == .filesystem ? "host" : "tenant")
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
            #expect(try await tier.contents(records[3].location) != nil)
            #expect(Set(found.filter { $0.kind != "stub_missing" }.map(\.state)) == ["open"])

            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let atRisk = try await postgres.query("SELECT file_path FROM stub_registry WHERE at_risk ORDER BY file_path",
                                                      logger: TestServers.logger).collect().map { try $0.decode(String.self) }
                #expect(atRisk == [paths[0], paths[1]].sorted(), "the stubs whose only copy is gone or damaged are at risk")
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE action = 'stub.at_risk'") == 2)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'deleted' AND deleted_at IS NOT NULL") == 1)
            }
            for (path, copy) in untouched {
                let record = try #require(try StubFile.record(at: path), "an undamaged stub stays a stub")
                #expect(try await tier.contents(record.location) == copy, "and its copy is as it was")
            }

            // The next run deletes the orphan past its grace (none here), unless the target keeps orphans; a finding
            // seen again keeps its row; an admin accepts one.
            _ = try await reconcile(suite, tenant, scope: kind == .filesystem ? "host" : "tenant")
            let again = try await findings(suite, tenant)
            let orphan = try #require(again.first { $0.kind == "orphan" })
            let kept = kind == .s3
            #expect(orphan.state == (kept ? "open" : "repaired"), kept ? "a target that keeps orphans keeps them" : "the orphan is deleted")
            #expect((try await tier.contents(stray) != nil) == kept)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let repairs = try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE action = 'finding.repair' AND result = 'deleted'")
                #expect(repairs == (kept ? 0 : 1), "a deletion is in the audit trail")
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
