import AltoStore
import AltoTestSupport
import AltoTiering
import Foundation
import PostgresNIO
import Testing

/// The day everything but tier-2 is gone: a tree is tiered by the suite to a folder and to S3 (moto), then the
/// database is dropped and every stub deleted, and `alto-agent restore`, with nothing but the target and the
/// tenant's key, gives back every file byte for byte with its times and mode.
@Suite(.timeLimit(.minutes(5))) struct DisasterRestoreTests {
    static let accessKey = "AKIAALTORESTORE"
    static let secretKey = "alto/restore/secret"

    @Test func everyFileComesBackFromTierTwoAndTheTenantsKeyAlone() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest", "alto-planner", "alto-actor"])
        let moto = try await PeerServer(["python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", "{port}"], name: "moto", logFolder: suite.work)
        defer { moto.stop() }
        _ = try await PeerServer.python("""
            import boto3
            boto3.client('s3', endpoint_url='http://127.0.0.1:\(moto.port)', region_name='us-east-1', aws_access_key_id='\(Self.accessKey)',
                         aws_secret_access_key='\(Self.secretKey)').create_bucket(Bucket='alto-restore')
            """)
        try await suite.whileRunning {
            let (customer, host, token) = try await suite.enrol("disaster-\(suite.run)")
            let data = suite.work.appendingPathComponent("data").path
            let tier2 = suite.work.appendingPathComponent("tier2").path
            try FileManager.default.createDirectory(atPath: tier2, withIntermediateDirectories: true)
            // A tree with nested folders, odd names, several modes and times to the nanosecond, half of it for each target.
            var originals: [String: (content: Data, mode: mode_t, modified: Int)] = [:]
            let names = ["local/Projekte 2019/Bericht ü, \"final\".pdf", "local/Projekte 2019/tables/q1.csv", "local/run.sh",
                         "cloud/archive/2018/mail.pst", "cloud/archive/notes #3.txt", "cloud/photos/IMG_0001.jpg"]
            for (index, name) in names.enumerated() {
                let path = data + "/" + name
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                let content = Data((0..<(index % 2 == 0 ? 1_200_000 + index : 90_000 + index)).map { _ in UInt8.random(in: 0...255) })
                try content.write(to: URL(fileURLWithPath: path))
                let mode: mode_t = [0o640, 0o600, 0o750][index % 3]
                chmod(path, mode)
                var times = [timespec(tv_sec: 1_400_000_000, tv_nsec: 5), timespec(tv_sec: 1_450_000_000 + index, tv_nsec: 123_456_789)]
                #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
                originals[path] = (content, mode, 1_450_000_000 + index)
            }
            struct Created: Decodable { var id: UUID }
            let folderTarget: Created = try await suite.post("/api/v1/storage-targets", ["name": "tier2", "kind": "filesystem", "location": tier2],
                                                             customer: customer)
            let bucket: Created = try await suite.post("/api/v1/storage-targets", [
                "name": "archive", "kind": "s3", "location": "s3://alto-restore/tier2",
                "settings": ["endpoint": "http://127.0.0.1:\(moto.port)", "access_key_id": Self.accessKey, "secret_access_key": Self.secretKey,
                             "compression": "zstd"],
            ], customer: customer)
            for (name, target) in [("local", folderTarget), ("cloud", bucket)] {
                let _: Created = try await suite.post("/api/v1/rules", [
                    "name": name, "priority": name == "local" ? 1 : 2, "path_globs": ["\(data)/\(name)/**"], "min_days_since_modified": 180,
                    "target_id": target.id.uuidString,
                ] as [String: any Sendable], customer: customer)
            }
            let agent = suite.agentEnvironment(customer: customer, host: host, token: token).merging(["ALTO_AGENT_SCAN_ROOTS": data]) { _, new in new }
            try await suite.launch("alto-agent", arguments: ["run"], environment: agent)
            let (scanStatus, scanOutput) = try await ServiceProcess.run("alto-agent", arguments: ["scan", data], environment: agent)
            #expect(scanStatus == 0, "\(scanOutput)")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("the tree is stubs", timeout: .seconds(90)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'active'") == originals.count
                }
            }
            for path in originals.keys { #expect(try StubFile.record(at: path) != nil, "\(path) is a stub") }

            // The disaster: the services stop, the database is dropped, every stub is deleted.
            _ = await suite.stop()
            let database = try PostgresSettings(url: suite.databaseURL)
            try await database.database("postgres").withConnection(logger: TestServers.logger) { connection in
                try await connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(database.database) WITH (FORCE)"), logger: TestServers.logger)
            }
            try FileManager.default.removeItem(atPath: data)

            let restored = suite.work.appendingPathComponent("restored").path
            try FileManager.default.createDirectory(atPath: restored, withIntermediateDirectories: true)
            let restore = ["ALTO_CUSTOMER_ID": customer.uuidString, "ALTO_AGENT_STATE_DIR": agent["ALTO_AGENT_STATE_DIR"]!,
                           "ALTO_KEY_DIR": agent["ALTO_KEY_DIR"]!, "ALTO_LOG_LEVEL": "info"]
            // The folder target by its id, as the host's state folder still knows it.
            let (fromFolder, folderOutput) = try await ServiceProcess.run("alto-agent", arguments: ["restore", restored, "--target", folderTarget.id.uuidString],
                                                                          environment: restore)
            #expect(fromFolder == 0, "\(folderOutput)")
            #expect(folderOutput.contains("restored 3 files"), "\(folderOutput)")
            // The bucket by its location alone, its credential from the environment.
            let (fromBucket, bucketOutput) = try await ServiceProcess.run("alto-agent", arguments: [
                "restore", restored, "--location", "s3://alto-restore/tier2", "--setting", "endpoint=http://127.0.0.1:\(moto.port)",
                "--setting", "access_key_id=\(Self.accessKey)",
            ], environment: restore.merging(["ALTO_TARGET_SECRET_ACCESS_KEY": Self.secretKey]) { _, new in new })
            #expect(fromBucket == 0, "\(bucketOutput)")
            #expect(bucketOutput.contains("restored 3 files"), "\(bucketOutput)")

            for (path, original) in originals {
                let copy = restored + path
                var info = stat()
                #expect(lstat(copy, &info) == 0)
                #expect(info.st_mode & 0o7777 == original.mode, "\(path) keeps its mode")
                #expect(info.st_mtim.tv_sec == original.modified && info.st_mtim.tv_nsec == 123_456_789, "\(path) keeps its modification time")
                #expect(info.st_atim.tv_sec == 1_400_000_000 && info.st_atim.tv_nsec == 5, "and its access time")
                // Read last: a read may move the access time.
                #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == original.content, "\(path) comes back byte for byte")
            }
            // Without the tenant's key nothing opens.
            let stranger = suite.work.appendingPathComponent("stranger").path
            try FileManager.default.createDirectory(atPath: stranger, withIntermediateDirectories: true)
            let (refused, refusedOutput) = try await ServiceProcess.run("alto-agent", arguments: ["restore", stranger, "--location", tier2],
                                                                        environment: restore.merging(["ALTO_KEY_DIR": suite.work.appendingPathComponent("other-keys").path]) { _, new in new })
            #expect(refused != 0 && refusedOutput.contains("failed 3"), "\(refusedOutput)")
            #expect(try FileManager.default.subpathsOfDirectory(atPath: stranger).isEmpty, "and nothing is written")
        }
    }
}
