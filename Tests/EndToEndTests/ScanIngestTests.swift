import AltoAMQP
import AltoCompression
import AltoModels
import AltoTestSupport
import Foundation
import PostgresNIO
import Testing

/// The path from a file system to the inventory with the real agent, API and ingest worker: a tree of hard cases
/// against what `find` reports, every refusal and reject, redelivery and re-upload, and an interrupted upload.
@Suite(.timeLimit(.minutes(5))) struct ScanIngestTests {
    /// How an agent is run here: as `nobody` when the tests run as root (who can read every directory), so an
    /// unreadable directory is unreadable to the scan as it is on a real server.
    static let scanUser: [String] = geteuid() == 0 ? ["/usr/sbin/runuser", "-u", "nobody", "--"] : []

    @Test func theInventoryMatchesFindForATreeOfHardCases() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest"])
        try await suite.whileRunning {
            let data = suite.work.appendingPathComponent("data").path
            try makeHardCaseTree(at: data)
            let (customer, host, token) = try await suite.enrol("hard-\(suite.run)")
            var environment = suite.agentEnvironment(customer: customer, host: host, token: token)
            let state = suite.work.appendingPathComponent("agent-state").path
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
            environment["ALTO_AGENT_STATE_DIR"] = state

            // First with the API out of reach: the batches stay in the spool, and `upload` sends them later.
            environment["ALTO_API_URL"] = "http://127.0.0.1:9"
            let (offline, offlineOutput) = try runAgent(["scan", data, "--batch-megabytes", "1"], environment: environment, in: suite)
            #expect(offline == 1, "\(offlineOutput)")
            #expect(offlineOutput.contains("stay in the spool"))
            #expect(offlineOutput.contains(" unreadable") && !offlineOutput.contains(" 0 unreadable"), "\(offlineOutput)")
            let spool = state + "/spool"
            #expect(try FileManager.default.contentsOfDirectory(atPath: spool).count == 1)
            environment["ALTO_API_URL"] = suite.apiURL
            let (online, onlineOutput) = try runAgent(["upload"], environment: environment, in: suite)
            #expect(online == 0, "\(onlineOutput)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: spool).isEmpty, "acknowledged batches leave the spool")

            try await expectInventoryMatchesFind(data, host: host, suite: suite)

            // The next scan lists what changed since (with the index the first one left): a file grown, one new, three
            // gone, two of them with names only the path encoding carries; the inventory matches find again.
            let names = data + "/names/"
            let grown = try FileHandle(forWritingTo: URL(fileURLWithPath: names + "with space.txt"))
            try grown.seekToEnd()
            try grown.write(contentsOf: Data("more".utf8))
            try grown.close()
            try Data("new".utf8).write(to: URL(fileURLWithPath: names + "%42 new.txt"))
            #expect(unlink(names + "100%.txt") == 0 && unlink(names + "new\nline.txt") == 0)
            let latin1 = Array((names + "caf").utf8) + [0xE9, 0x2E, 0x74, 0x78, 0x74, 0]
            #expect(latin1.withUnsafeBufferPointer { unlink(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) } == 0)
            let (rescan, rescanOutput) = try runAgent(["scan", data, "--batch-megabytes", "1"], environment: environment, in: suite)
            #expect(rescan == 0, "\(rescanOutput)")
            try await expectInventoryMatchesFind(data, host: host, suite: suite)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let changed = try await RunningSuite.count(postgres, """
                    SELECT count(*) FROM scan_staging.uploads WHERE host_id = '\(host)' AND listing = 'changes' AND kind = 'files'
                       AND accepted_rows = 2
                    """)
                #expect(changed == 1, "the re-scan sent the two files that changed")
                let deletions = try await RunningSuite.count(postgres, """
                    SELECT count(*) FROM scan_staging.uploads WHERE host_id = '\(host)' AND listing = 'changes' AND kind = 'deletions'
                       AND accepted_rows = 3
                    """)
                #expect(deletions == 1, "and the keys of the three gone")
            }
        }
        chmod(suite.work.appendingPathComponent("data/locked").path, 0o755)
        try? FileManager.default.removeItem(at: suite.work)
    }

    /// The host's live inventory, once every batch is in, is what `find` sees: paths, sizes and the host's totals.
    func expectInventoryMatchesFind(_ data: String, host: UUID, suite: RunningSuite) async throws {
        let expected = try findFiles(data)
        try await TestServers.withPostgres(suite.databaseURL) { postgres in
            try await waitForIngest(postgres, host: host)
            var inventory: [[UInt8]: Int64] = [:]
            for try await (path, size) in try await postgres.query("""
                SELECT file_path, file_size FROM file_inventory WHERE host_id = \(host) AND deleted_at IS NULL
                """, logger: TestServers.logger).decode((String, Int64).self) {
                inventory[PathEncoding.decode(path)] = size
            }
            #expect(inventory.count == expected.count)
            for (path, size) in expected {
                #expect(inventory[path] == size, "\(PathEncoding.encode(path)) as find sees it")
            }
            #expect(inventory.values.reduce(0, +) == expected.values.reduce(0, +))
            let totals = try await postgres.query("SELECT file_count, total_bytes FROM hosts WHERE id = \(host)", logger: TestServers.logger)
            for try await (count, bytes) in totals.decode((Int64, Int64).self) {
                #expect(count == Int64(expected.count))
                #expect(bytes == expected.values.reduce(0, +))
            }
        }
    }

    @Test func everyRefusalAndRejectLeavesTheRestOfTheInventoryAlone() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest"], environment: ["ALTO_API_MAX_UPLOAD_BYTES": "65536"])
        try await suite.whileRunning {
            let (customer, host, token) = try await suite.enrol("a-\(suite.run)")
            let (otherCustomer, otherHost, otherToken) = try await suite.enrol("b-\(suite.run)")
            let baseline = ScanCSV.header + "/srv/keep.txt,10,2025-01-01T00:00:00Z,,,0644,alice,\n/srv/other.txt,20,2025-01-01T00:00:00Z,,,0644,bob,\n"
            let baselineBatch = UUID()
            let scan = UUID()
            let accepted = try await upload(suite, baseline, customer: customer, host: host, token: token, batch: baselineBatch, scan: scan)
            #expect(accepted.0 == 202, "\(accepted.1)")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await waitForIngest(postgres, host: host)
                let before = try await snapshot(postgres)
                #expect(before.count == 2)

                let refusals: [(String, (Int, String), Int, String)] = [
                    ("no token", try await upload(suite, baseline, customer: customer, host: host, token: nil), 401, "unauthorized"),
                    ("wrong token", try await upload(suite, baseline, customer: customer, host: host, token: "nope"), 401, "unauthorized"),
                    // Another tenant's ids answer 404, as if they did not exist: a token learns nothing about other tenants.
                    ("another customer's host", try await upload(suite, baseline, customer: customer, host: otherHost, token: otherToken),
                     404, "not_found"),
                    ("another host's id", try await upload(suite, baseline, customer: customer, host: UUID(), token: token), 404, "not_found"),
                    ("wrong header", try await upload(suite, "path,size\n/x,1\n", customer: customer, host: host, token: token),
                     400, "invalid_csv"),
                    ("truncated zstd", try await upload(suite, baseline, customer: customer, host: host, token: token,
                                                        encoding: .zstd, truncate: 8), 400, "invalid_compression"),
                    ("over the limit", try await upload(suite, baseline + String(repeating: "/srv/x,1,2025-01-01T00:00:00Z,,,0644,x,\n", count: 2000),
                                                        customer: customer, host: host, token: token), 413, "too_large"),
                    ("unknown encoding", try await upload(suite, baseline, customer: customer, host: host, token: token, contentEncoding: "br"),
                     415, "unsupported_encoding"),
                    ("not CSV", try await upload(suite, baseline, customer: customer, host: host, token: token, contentType: "application/json"),
                     415, "unsupported_media_type"),
                ]
                for (what, answer, status, code) in refusals {
                    #expect(answer.0 == status, "\(what): \(answer.1)")
                    #expect(answer.1.contains("\"code\":\"\(code)\""), "\(what): \(answer.1)")
                }
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM scan_staging.uploads") == 1, "nothing refused was staged")
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM outbox WHERE routing_key = 'ingest.jobs'") == 0)

                // The same batch again, as an agent that lost the answer would send it: accepted once.
                let again = try await upload(suite, baseline, customer: customer, host: host, token: token, batch: baselineBatch, scan: scan)
                #expect(again.0 == 202)
                #expect(again.1.contains("already_accepted"))
                // The same ingest job again, as the broker would redeliver it.
                let redelivered = Envelope(customerID: customer, hostID: host, payload: IngestJob(
                    batchID: baselineBatch, scanID: scan, byteCount: baseline.utf8.count, scanStartedAt: Date()))
                let publisher = AMQPPublisher(configuration: try AMQPConfiguration(url: suite.amqpURL), logger: TestServers.logger)
                try await publisher.publish(AMQPMessage(body: try redelivered.encoded()), routingKey: AMQPTopology.ingestJobs)
                await publisher.shutdown()

                let bad = ScanCSV.header
                    + "/srv/new.txt,5,2025-01-01T00:00:00+01:00,,,0644,carol,\n"
                    + "/srv/bad-time.txt,5,2025-01-01 soon,,,0644,carol,\n"
                    + "/srv/negative.txt,-5,2025-01-01T00:00:00Z,,,0644,carol,\n"
                    + "/srv/wide.txt,5,2025-01-01T00:00:00Z,,,0644,carol,,surplus\n"
                let badBatch = UUID()
                let partial = try await upload(suite, bad, customer: customer, host: host, token: token, batch: badBatch,
                                               full: false, encoding: .gzip)
                #expect(partial.0 == 202, "\(partial.1)")
                try await waitForIngest(postgres, host: host)
                let counts = try await postgres.query(
                    "SELECT accepted_rows, rejected_rows FROM scan_staging.uploads WHERE batch_id = \(badBatch)", logger: TestServers.logger)
                for try await (acceptedRows, rejectedRows) in counts.decode((Int, Int).self) {
                    #expect(acceptedRows == 1)
                    #expect(rejectedRows == 3)
                }
                var reasons: [String: String] = [:]
                for try await (path, reason) in try await postgres.query(
                    "SELECT file_path, reason FROM scan_staging.rejects WHERE batch_id = \(badBatch)", logger: TestServers.logger).decode((String?, String).self) {
                    reasons[path ?? ""] = reason
                }
                #expect(reasons["/srv/bad-time.txt"]?.contains("last_modified") == true)
                #expect(reasons["/srv/negative.txt"]?.contains("negative") == true)
                #expect(reasons["/srv/wide.txt"]?.contains("expected 8 fields, found 9") == true)
                let report = try await suite.send(suite.apiURL + "/api/v1/scan-results/\(badBatch)", body: nil, headers: [
                    "X-Alto-Customer-Id": customer.uuidString, "X-Alto-Host-Id": host.uuidString, "Authorization": "Bearer \(token)"])
                #expect(report.0 == 200)
                #expect(report.1.contains("\"accepted_rows\":1") && report.1.contains("\"rejected_rows\":3"), "\(report.1)")
                #expect(report.1.contains("negative"))
                let foreign = try await suite.send(suite.apiURL + "/api/v1/scan-results/\(badBatch)", body: nil, headers: [
                    "X-Alto-Customer-Id": otherCustomer.uuidString, "X-Alto-Host-Id": otherHost.uuidString,
                    "Authorization": "Bearer \(otherToken)"])
                #expect(foreign.0 == 404, "another tenant cannot see the batch")
                let after = try await snapshot(postgres)
                #expect(after.count == 3)
                for (path, row) in before {
                    #expect(after[path] == row, "\(path) did not change")
                }
                #expect(after["/srv/new.txt"]?.contains("2024-12-31 23:00:00") == true, "times are stored in UTC: \(after["/srv/new.txt"] ?? "")")

                // A full scan that no longer lists a file retires it.
                let rescan = try await upload(suite, ScanCSV.header + "/srv/keep.txt,10,2025-01-01T00:00:00Z,,,0644,alice,\n",
                                              customer: customer, host: host, token: token)
                #expect(rescan.0 == 202)
                try await waitForIngest(postgres, host: host)
                #expect(try await RunningSuite.count(postgres, """
                    SELECT count(*) FROM file_inventory WHERE host_id = '\(host)' AND deleted_at IS NULL
                    """) == 1)
                #expect(try await RunningSuite.count(postgres, "SELECT file_count FROM hosts WHERE id = '\(host)'") == 1)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE host_id = '\(otherHost)'") == 0)

                // A first scan that names a path twice: the plain insert into the empty host and the upsert both meet the
                // repeat, and the path's last row wins.
                let repeated = try await upload(suite, ScanCSV.header + "/srv/twice.txt,1,2025-01-01T00:00:00Z,,,0644,bob,\n"
                                                    + "/srv/once.txt,3,2025-01-01T00:00:00Z,,,0644,bob,\n"
                                                    + "/srv/twice.txt,2,2025-01-01T00:00:00Z,,,0644,bob,\n",
                                                customer: otherCustomer, host: otherHost, token: otherToken)
                #expect(repeated.0 == 202, "\(repeated.1)")
                try await waitForIngest(postgres, host: otherHost)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE host_id = '\(otherHost)'") == 2)
                #expect(try await RunningSuite.count(postgres, """
                    SELECT file_size FROM file_inventory WHERE host_id = '\(otherHost)' AND file_path = '/srv/twice.txt'
                    """) == 2)
                #expect(try await RunningSuite.count(postgres, "SELECT file_count FROM hosts WHERE id = '\(otherHost)'") == 2)
            }
        }
        try? FileManager.default.removeItem(at: suite.work)
    }

    /// A host's first full scan is copied into a load table that becomes the host's inventory partition once the
    /// scan is complete. Whatever came before it, the host ends with what its scans listed and no load table left.
    @Test func aFirstFullScanBecomesTheHostsInventoryWhateverCameBefore() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest"])
        try await suite.whileRunning {
            func row(_ path: String, _ size: Int) -> String { "\(path),\(size),2025-01-01T00:00:00Z,,,0644,alice,\n" }
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                func live(_ host: UUID) async throws -> [String: Int] {
                    var files: [String: Int] = [:]
                    for try await (path, size) in try await postgres.query("""
                        SELECT file_path, file_size FROM file_inventory WHERE host_id = \(host) AND deleted_at IS NULL
                        """, logger: TestServers.logger).decode((String, Int).self) {
                        files[path] = size
                    }
                    return files
                }
                func leftoverLoads() async throws -> Int {
                    try await RunningSuite.count(postgres, """
                        SELECT (SELECT count(*) FROM inventory.loads)
                             + (SELECT count(*) FROM pg_tables WHERE schemaname = 'inventory' AND tablename LIKE 'load\\_%')
                        """)
                }

                // A first full scan that stops after its first batch, then one that completes: the host holds what the
                // second listed, a path's last row winning, and the abandoned scan's load table is gone.
                let (customer, host, token) = try await suite.enrol("first-\(suite.run)")
                let abandoned = try await upload(suite, ScanCSV.header + row("/srv/gone.txt", 1) + row("/srv/kept.txt", 1),
                                                 customer: customer, host: host, token: token, final: false)
                #expect(abandoned.0 == 202, "\(abandoned.1)")
                try await waitForIngest(postgres, host: host)
                #expect(try await live(host).isEmpty, "a first scan shows once it is complete")
                let scan = UUID()
                for (index, csv) in [row("/srv/kept.txt", 2) + row("/srv/twice.txt", 1), row("/srv/twice.txt", 3) + row("/srv/new.txt", 4)]
                    .enumerated() {
                    let sent = try await upload(suite, ScanCSV.header + csv, customer: customer, host: host, token: token, scan: scan,
                                                index: index, final: index == 1)
                    #expect(sent.0 == 202, "\(sent.1)")
                    try await waitForIngest(postgres, host: host)
                }
                #expect(try await live(host) == ["/srv/kept.txt": 2, "/srv/twice.txt": 3, "/srv/new.txt": 4])
                #expect(try await RunningSuite.count(postgres, "SELECT file_count FROM hosts WHERE id = '\(host)'") == 3)
                #expect(try await leftoverLoads() == 0)

                // A partial scan that comes in during a host's first full scan: the full scan's rows are merged into the
                // partition the partial one made, and nothing either listed is retired.
                let (otherCustomer, otherHost, otherToken) = try await suite.enrol("partial-\(suite.run)")
                let fullScan = UUID()
                let first = try await upload(suite, ScanCSV.header + row("/srv/a.txt", 1), customer: otherCustomer, host: otherHost,
                                             token: otherToken, scan: fullScan, final: false)
                #expect(first.0 == 202, "\(first.1)")
                try await waitForIngest(postgres, host: otherHost)
                let partial = try await upload(suite, ScanCSV.header + row("/srv/p.txt", 5), customer: otherCustomer, host: otherHost,
                                               token: otherToken, full: false)
                #expect(partial.0 == 202, "\(partial.1)")
                try await waitForIngest(postgres, host: otherHost)
                #expect(try await live(otherHost) == ["/srv/p.txt": 5])
                let last = try await upload(suite, ScanCSV.header + row("/srv/b.txt", 2), customer: otherCustomer, host: otherHost,
                                            token: otherToken, scan: fullScan, index: 1)
                #expect(last.0 == 202, "\(last.1)")
                try await waitForIngest(postgres, host: otherHost)
                #expect(try await live(otherHost) == ["/srv/a.txt": 1, "/srv/b.txt": 2, "/srv/p.txt": 5])
                #expect(try await RunningSuite.count(postgres, "SELECT file_count FROM hosts WHERE id = '\(otherHost)'") == 3)
                #expect(try await leftoverLoads() == 0)
                #expect(try await live(host).count == 3, "one host's scans leave another's inventory alone")
            }
        }
        try? FileManager.default.removeItem(at: suite.work)
    }

    /// A listing of changes sends only what changed since the agent's previous scan and the keys of the files gone:
    /// those are retired, the rest is left as it was, and an inventory that no longer adds up to what the agent
    /// found is reported.
    @Test func aListingOfChangesRetiresWhatItNamesAndReportsAnInventoryThatDrifted() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest"])
        try await suite.whileRunning {
            func row(_ path: String, _ size: Int) -> String { "\(path),\(size),2025-01-01T00:00:00Z,,,0644,alice,\n" }
            func key(_ path: String) -> String { String(PathKey.stored(PathKey.of(Array(path.utf8)))) + "\n" }
            let (customer, host, token) = try await suite.enrol("changes-\(suite.run)")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                func live() async throws -> [String: Int] {
                    var files: [String: Int] = [:]
                    for try await (path, size) in try await postgres.query("""
                        SELECT file_path, file_size FROM file_inventory WHERE host_id = \(host) AND deleted_at IS NULL
                        """, logger: TestServers.logger).decode((String, Int).self) {
                        files[path] = size
                    }
                    return files
                }
                func listChanges(_ files: String, gone: [String], agentFiles: Int) async throws {
                    let scan = UUID()
                    let changed = try await upload(suite, ScanCSV.header + files, customer: customer, host: host, token: token, scan: scan,
                                                   final: false, listing: .changes)
                    #expect(changed.0 == 202, "\(changed.1)")
                    let deletions = try await upload(suite, ScanCSV.deletionHeader + gone.map(key).joined(), customer: customer, host: host,
                                                     token: token, scan: scan, index: 1, listing: .changes, agentFiles: agentFiles)
                    #expect(deletions.0 == 202, "\(deletions.1)")
                    try await waitForIngest(postgres, host: host)
                }

                let early = try await upload(suite, ScanCSV.header + row("/srv/a", 1), customer: customer, host: host, token: token,
                                             listing: .changes)
                #expect(early.0 == 400 && early.1.contains("complete_listing_required"), "no complete listing yet: \(early.1)")
                let first = try await upload(suite, ScanCSV.header + row("/srv/a", 1) + row("/srv/b", 2) + row("/srv/c", 3) + row("/srv/a,b", 4),
                                             customer: customer, host: host, token: token)
                #expect(first.0 == 202, "\(first.1)")
                try await waitForIngest(postgres, host: host)
                try await listChanges(row("/srv/b", 20) + row("/srv/d", 5), gone: ["/srv/a", "/srv/a,b", "/srv/never"], agentFiles: 3)
                #expect(try await live() == ["/srv/b": 20, "/srv/c": 3, "/srv/d": 5])
                #expect(try await RunningSuite.count(postgres, "SELECT file_count FROM hosts WHERE id = '\(host)'") == 3)
                #expect(!suite.logs.contains("the inventory differs"))

                try await listChanges("", gone: [], agentFiles: 4)
                #expect(try await live() == ["/srv/b": 20, "/srv/c": 3, "/srv/d": 5], "a listing of changes retires only what it names")
                try await RunningSuite.waitUntil("the drift is reported", timeout: .seconds(10)) {
                    suite.logs.contains("the inventory differs from the host after a listing of changes")
                }

                let mixed = UUID()
                let listed = try await upload(suite, ScanCSV.header + row("/srv/c", 3), customer: customer, host: host, token: token,
                                              scan: mixed, final: false, listing: .changes)
                #expect(listed.0 == 202, "\(listed.1)")
                let relisted = try await upload(suite, ScanCSV.header + row("/srv/c", 3), customer: customer, host: host, token: token,
                                                scan: mixed, index: 1)
                #expect(relisted.0 == 400 && relisted.1.contains("X-Alto-Listing"), "one scan lists one way: \(relisted.1)")
                let refused = try await upload(suite, ScanCSV.deletionHeader + key("/srv/c"), customer: customer, host: host, token: token)
                #expect(refused.0 == 400 && refused.1.contains("invalid_csv"), "deletions belong to a listing of changes: \(refused.1)")
                let partial = try await upload(suite, ScanCSV.header, customer: customer, host: host, token: token, full: false,
                                               listing: .changes)
                #expect(partial.0 == 400 && partial.1.contains("invalid_header"), "\(partial.1)")
                #expect(try await live()["/srv/c"] == 3)
            }
        }
        try? FileManager.default.removeItem(at: suite.work)
    }

    @Test func theAgentScansOnItsScheduleAndARestartDoesNotRescanEarly() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest"])
        try await suite.whileRunning {
            let data = suite.work.appendingPathComponent("scheduled").path
            try FileManager.default.createDirectory(atPath: data + "/sub", withIntermediateDirectories: true)
            for name in ["a.txt", "b.txt", "sub/c.txt"] { try Data(name.utf8).write(to: URL(fileURLWithPath: data + "/" + name)) }
            let (customer, host, token) = try await suite.enrol("daemon-\(suite.run)")
            let environment = suite.agentEnvironment(customer: customer, host: host, token: token).merging([
                "ALTO_AGENT_SCAN_ROOTS": data, "ALTO_AGENT_SCAN_INTERVAL_SECONDS": "3600",
            ]) { _, new in new }
            let spool = suite.work.appendingPathComponent("agent-state/spool").path
            let crashed = UUID().uuidString.lowercased(), scanning = UUID().uuidString.lowercased()
            for folder in [crashed, scanning] {
                try FileManager.default.createDirectory(atPath: spool + "/" + folder, withIntermediateDirectories: true)
                try Data("half a batch".utf8).write(to: URL(fileURLWithPath: spool + "/" + folder + "/00000.csv.zst.partial"))
            }
            let scanLock = open(spool + "/" + scanning + ".lock", O_RDWR | O_CREAT, 0o600)
            #expect(flock(scanLock, LOCK_EX | LOCK_NB) == 0)
            defer { close(scanLock) }
            let agent = try suite.start("alto-agent", arguments: ["run"], environment: environment)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("the scheduled scan is in the inventory", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, "SELECT file_count FROM hosts WHERE id = '\(host)'") == 3
                }
                #expect(!FileManager.default.fileExists(atPath: spool + "/" + crashed), "a crashed scan's folder is dropped")
                #expect(FileManager.default.fileExists(atPath: spool + "/" + scanning + "/00000.csv.zst.partial"),
                        "a scan that another process is still writing is left alone")
                #expect(await agent.terminate() == 0, "the agent stops cleanly on SIGTERM")
                try await suite.launch("alto-agent", arguments: ["run"], environment: environment)
                try await Task.sleep(for: .seconds(2))
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM scan_staging.uploads WHERE host_id = '\(host)'") == 1,
                        "the restarted agent waits for the interval")
            }
        }
    }

    @Test func aFileDeletedDuringTheScanIsNotAnError() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("alto-vanish-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for folder in 0..<20 {
            try FileManager.default.createDirectory(atPath: "\(root)/d\(folder)", withIntermediateDirectories: true)
            for file in 0..<1000 {
                close(open("\(root)/d\(folder)/f\(file)", O_CREAT | O_WRONLY, 0o644))
            }
        }
        let deleter = Thread {
            for folder in (0..<20).reversed() {
                for file in 0..<1000 { unlink("\(root)/d\(folder)/f\(file)") }
            }
        }
        deleter.start()
        let (status, output) = try await ServiceProcess.run("alto-agent", arguments: ["scan", root, "--output", root + "-out"], environment: [:])
        try? FileManager.default.removeItem(atPath: root + "-out")
        #expect(status == 0, "\(output)")
        #expect(output.contains("vanished"))
    }

    // MARK: - Helpers

    /// Spaces, commas, quotes, a newline and Latin-1 bytes in names, a symlink loop and one out of the tree, an
    /// unreadable folder, hard links, a sparse file and a path of 4,000 bytes.
    func makeHardCaseTree(at root: String) throws {
        let manager = FileManager.default
        try manager.createDirectory(atPath: root + "/names", withIntermediateDirectories: true)
        for name in ["with space.txt", "comma,name.csv", "quote\"name\".doc", "new\nline.txt", "tab\tname", "%41 literal.txt", "100%.txt", "日本語.pdf"] {
            try Data(name.utf8).write(to: URL(fileURLWithPath: root + "/names/" + name))
        }
        let latin1 = Array((root + "/names/caf").utf8) + [0xE9, 0x2E, 0x74, 0x78, 0x74, 0]
        let descriptor = latin1.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644) }
        #expect(write(descriptor, "latin-1", 7) == 7)
        close(descriptor)
        try manager.createDirectory(atPath: root + "/links", withIntermediateDirectories: true)
        try manager.createSymbolicLink(atPath: root + "/links/loop", withDestinationPath: "..")
        try manager.createSymbolicLink(atPath: root + "/links/outside", withDestinationPath: "/usr")
        try Data(repeating: 7, count: 5000).write(to: URL(fileURLWithPath: root + "/links/original.bin"))
        try manager.linkItem(atPath: root + "/links/original.bin", toPath: root + "/links/hard-link.bin")
        let sparse = open(root + "/sparse.img", O_CREAT | O_WRONLY, 0o644)
        #expect(ftruncate(sparse, 1 << 30) == 0)
        close(sparse)
        var deep = root
        while deep.utf8.count < 3_700 {
            deep += "/" + String(repeating: "d", count: 200)
        }
        try manager.createDirectory(atPath: deep, withIntermediateDirectories: true)
        let longName = String(repeating: "f", count: 4_000 - deep.utf8.count - 1)
        try Data("deep".utf8).write(to: URL(fileURLWithPath: deep + "/" + longName))
        #expect((deep + "/" + longName).utf8.count == 4_000)
        try manager.createDirectory(atPath: root + "/locked/inner", withIntermediateDirectories: true)
        try Data("secret".utf8).write(to: URL(fileURLWithPath: root + "/locked/inner/hidden.txt"))
        #expect(chmod(root + "/locked", 0o000) == 0)
    }

    /// `find ROOT -type f` as the scan's user: path bytes and sizes.
    func findFiles(_ root: String) throws -> [[UInt8]: Int64] {
        let (status, output) = try capture(Self.scanUser + ["/usr/bin/find", root, "-type", "f", "-printf", "%s %p\\0"], errors: false)
        #expect(status == 0 || status == 1, "find: \(String(decoding: output, as: UTF8.self))")
        var files: [[UInt8]: Int64] = [:]
        for record in output.split(separator: 0) {
            guard let space = record.firstIndex(of: 0x20), let size = Int64(String(decoding: record[..<space], as: UTF8.self)) else { continue }
            files[Array(record[(space + 1)...])] = size
        }
        return files
    }

    func runAgent(_ arguments: [String], environment: [String: String], in suite: RunningSuite) throws -> (Int32, String) {
        let (status, output) = try capture(Self.scanUser + [ServiceProcess.binary("alto-agent").path] + arguments, environment: environment)
        return (status, String(decoding: output, as: UTF8.self))
    }

    /// Runs a command to its end; its standard error joins the output unless `errors` is false.
    func capture(_ command: [String], environment: [String: String] = [:], errors: Bool = true) throws -> (Int32, [UInt8]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = errors ? pipe : FileHandle.nullDevice
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, Array(output))
    }

    /// Sends a batch the way an agent does, or gets something wrong on purpose.
    func upload(_ suite: RunningSuite, _ csv: String, customer: UUID, host: UUID, token: String?, batch: UUID = UUID(),
                scan: UUID = UUID(), index: Int = 0, final: Bool = true, full: Bool = true, listing: IngestJob.Listing = .complete,
                agentFiles: Int? = nil, encoding: IngestJob.Compression = .none, truncate: Int = 0, contentEncoding: String? = nil,
                contentType: String = "text/csv") async throws -> (Int, String) {
        var body = Array(csv.utf8)
        if encoding != .none {
            let compressor = try Compressor(encoding)
            var packed: [UInt8] = []
            compressor.compress(body, into: &packed)
            compressor.finish(into: &packed)
            body = Array(packed.dropLast(truncate))
        }
        var headers = ["X-Alto-Customer-Id": customer.uuidString, "X-Alto-Host-Id": host.uuidString,
                       "X-Alto-Batch-Id": batch.uuidString, "X-Alto-Scan-Id": scan.uuidString,
                       "X-Alto-Batch-Index": "\(index)", "X-Alto-Final-Batch": final ? "true" : "false",
                       "X-Alto-Full-Scan": full ? "true" : "false", "X-Alto-Listing": listing.rawValue, "Content-Type": contentType]
        if let agentFiles { headers["X-Alto-Scan-Files"] = "\(agentFiles)" }
        if let token { headers["Authorization"] = "Bearer \(token)" }
        if let contentEncoding { headers["Content-Encoding"] = contentEncoding } else if encoding != .none { headers["Content-Encoding"] = encoding.rawValue }
        return try await suite.send(suite.apiURL + "/api/v1/scan-results", body: Data(body), headers: headers)
    }

    func waitForIngest(_ postgres: PostgresConnection, host: UUID) async throws {
        try await RunningSuite.waitUntil("every staged batch is ingested", timeout: .seconds(60)) {
            try await RunningSuite.count(postgres, """
                SELECT count(*) FROM scan_staging.uploads WHERE host_id = '\(host)' AND ingested_at IS NULL
                """) == 0
        }
    }

    /// Every inventory row as text, by path: what must not change when nothing should.
    func snapshot(_ postgres: PostgresConnection) async throws -> [String: String] {
        var rows: [String: String] = [:]
        for try await (path, row) in try await postgres.query(
            "SELECT file_path, (file_inventory.*)::text FROM file_inventory", logger: TestServers.logger).decode((String, String).self) {
            rows[path] = row
        }
        return rows
    }
}

#if canImport(Glibc)
import Glibc
#endif
