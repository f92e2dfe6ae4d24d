import AltoAMQP
import AltoModels
import AltoTestSupport
import AltoTiering
import Foundation
import FoundationNetworking
import PostgresNIO
import Testing

/// All six executables as separate processes against the real PostgreSQL and RabbitMQ (a database and a vhost of
/// their own), carrying a generated tree through scan → tier → stub → recall.
@Suite(.timeLimit(.minutes(3))) struct WalkingSkeletonTests {
    struct Created: Decodable {
        var id: UUID
        var agent_token: String?
    }

    @Test func scanTierStubAndRecall() async throws {
        let run = UUID().uuidString.prefix(8).lowercased()
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("alto-e2e-\(run)")
        let data = work.appendingPathComponent("data")
        let tier2 = work.appendingPathComponent("tier2")
        try FileManager.default.createDirectory(at: data.appendingPathComponent("archive/2019"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: data.appendingPathComponent("current"), withIntermediateDirectories: true)

        var generated: [String: Data] = [:]
        for (name, size, old) in [("archive/2019/q1, \"final\".pdf", 2 << 20, true), ("archive/2019/video.mp4", 5 << 20, true),
                                  ("archive/2019/tiny.txt", 100, true), ("current/draft.docx", 1 << 20, false)] {
            let path = data.appendingPathComponent(name).path
            let content = Data((0..<size).map { _ in UInt8.random(in: 0...255) })
            try content.write(to: URL(fileURLWithPath: path))
            if old {
                var times = [timespec(tv_sec: 1_500_000_000, tv_nsec: 0), timespec(tv_sec: 1_500_000_000, tv_nsec: 0)]
                #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
            }
            generated[path] = content
        }
        let originals = generated
        let cold = originals.keys.filter { $0.contains("archive") && !$0.hasSuffix("tiny.txt") }.sorted()

        let databaseURL = try await TestServers.freshDatabase(prefix: "alto_e2e")
        let vhost = "alto-e2e-\(run)"
        try TestServers.rabbitmqctl("add_vhost", vhost)
        try TestServers.rabbitmqctl("set_permissions", "-p", vhost, "guest", "'.*'", "'.*'", "'.*'")
        defer { try? TestServers.rabbitmqctl("delete_vhost", vhost) }
        let amqpURL = TestServers.amqpURL.replacingOccurrences(of: "%2f", with: vhost)
        let amqp = try AMQPConfiguration(url: amqpURL)
        let follower = AMQPPublisher(configuration: amqp, logger: TestServers.logger)
        try await follower.declare([.exchange(AMQPTopology.notificationsExchange, type: "fanout"),
                                    .boundQueue("notifications.e2e", exchange: AMQPTopology.notificationsExchange, routingKey: "")])
        await follower.shutdown()
        let basePort = Int.random(in: 20_000...40_000)
        let common = ["ALTO_POSTGRES_URL": databaseURL, "ALTO_AMQP_URL": amqpURL, "ALTO_LOG_LEVEL": "info"]
        let apiURL = "http://127.0.0.1:\(basePort)"

        let (migrateStatus, migrateOutput) = try ServiceProcess.run("alto-api", arguments: ["migrate"], environment: common)
        #expect(migrateStatus == 0, "\(migrateOutput)")
        var services: [ServiceProcess] = []
        for (index, name) in ["alto-api", "alto-ingest", "alto-planner", "alto-actor", "alto-sanitizer"].enumerated() {
            services.append(try ServiceProcess(name, environment: common.merging(["ALTO_HTTP_PORT": "\(basePort + index)"]) { _, new in new },
                                               logFolder: work))
        }
        func stopAll() async -> [String: Int32?] {
            var statuses: [String: Int32?] = [:]
            for service in services.reversed() { statuses[service.name] = await service.terminate() }
            return statuses
        }
        do {
            for index in 0..<5 { try await waitForHealth(port: basePort + index) }
            let admin = ["Authorization": "Bearer alto-dev-admin"]
            let customer: Created = try await post("\(apiURL)/api/v1/customers", ["name": "e2e-\(run)"], headers: admin)
            let host: Created = try await post("\(apiURL)/api/v1/customers/\(customer.id)/hosts", ["hostname": "fs-\(run)"], headers: admin)
            let target: Created = try await post("\(apiURL)/api/v1/customers/\(customer.id)/storage-targets",
                                                 ["name": "tier2", "kind": "filesystem", "location": tier2.path], headers: admin)
            let _: Created = try await post("\(apiURL)/api/v1/customers/\(customer.id)/rules", [
                "name": "cold archive", "priority": 1, "path_globs": ["\(data.path)/archive/**"],
                "min_days_since_modified": 180, "min_size": 4096, "target_id": target.id.uuidString,
            ] as [String: any Sendable], headers: admin)
            let token = try #require(host.agent_token)

            try await checkUploadRefusals(apiURL: apiURL, customer: customer.id, host: host.id, token: token)

            let agentEnvironment = common.merging([
                "ALTO_API_URL": apiURL, "ALTO_AGENT_TOKEN": token, "ALTO_CUSTOMER_ID": customer.id.uuidString,
                "ALTO_HOST_ID": host.id.uuidString, "ALTO_HTTP_PORT": "\(basePort + 5)",
                "ALTO_AGENT_STATE_DIR": work.appendingPathComponent("agent-state").path,
            ]) { _, new in new }
            services.append(try ServiceProcess("alto-agent", arguments: ["run"], environment: agentEnvironment, logFolder: work))
            let (scanStatus, scanOutput) = try ServiceProcess.run("alto-agent", arguments: ["scan", data.path], environment: agentEnvironment)
            #expect(scanStatus == 0, "\(scanOutput)")

            try await TestServers.withPostgres(databaseURL) { postgres in
                try await waitUntil("the cold files are stubs", timeout: .seconds(60)) {
                    try await count(postgres, "SELECT count(*) FROM file_inventory WHERE is_stubbed") == cold.count
                }
                #expect(try await count(postgres, "SELECT count(*) FROM file_inventory WHERE deleted_at IS NULL") == originals.count)
                for try await (path, size) in try await postgres.query("SELECT file_path, file_size FROM file_inventory").decode((String, Int64).self) {
                    #expect(Int64(originals[path]?.count ?? -1) == size, "inventory size of \(path)")
                }
                var registry: [String: (String, String)] = [:]
                for try await (path, location, hash) in try await postgres.query(
                    "SELECT file_path, tiered_location, hash FROM stub_registry WHERE state = 'active'"
                ).decode((String, String, String).self) {
                    registry[path] = (location, hash)
                }
                #expect(registry.keys.sorted() == cold)
                for path in cold {
                    let (location, hash) = try #require(registry[path])
                    #expect(hash == ContentHash.of(originals[path]!), "registry hash of \(path)")
                    #expect(try ContentHash.ofFile(location) == hash, "tier-2 copy of \(path)")
                    #expect(location.hasPrefix(tier2.path + "/" + customer.id.uuidString.lowercased()))
                    #expect(try StubFile.allocatedBytes(path) < Int64(originals[path]!.count) / 10, "blocks of \(path) were released")
                    #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == originals[path]!.count)
                }
                #expect(try await count(postgres, "SELECT count(*) FROM tiering_jobs WHERE state = 'done'") == 1)
                #expect(try await count(postgres, "SELECT count(*) FROM audit_log WHERE action = 'file.tier' AND result = 'tiered'") == cold.count)
                try await expectTieringNotification(amqp, customer: customer.id, tiered: cold.count)
                try await waitUntil("the outbox is drained", timeout: .seconds(10)) {
                    try await count(postgres, "SELECT count(*) FROM outbox") == 0
                }

                let recalled = cold[0]
                let (recallStatus, recallOutput) = try ServiceProcess.run("alto-agent", arguments: ["recall", recalled], environment: agentEnvironment)
                #expect(recallStatus == 0, "\(recallOutput)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: recalled)) == originals[recalled])
                #expect(try StubFile.record(at: recalled) == nil)
                try await waitUntil("the registry knows of the recall", timeout: .seconds(30)) {
                    try await count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'recalled'") == 1
                }
                #expect(try await count(postgres, "SELECT count(*) FROM file_inventory WHERE is_stubbed") == cold.count - 1)

                let commands = AMQPPublisher(configuration: amqp, logger: TestServers.logger)
                let agentQueue = AMQPTopology.agentQueue(hostID: host.id.uuidString)
                let recallJob = Envelope(customerID: customer.id, hostID: host.id, payload: RecallJob(
                    jobID: UUID(), files: [RecallJob.File(fileID: nil, filePath: cold[1])], requestedBy: "e2e"))
                let configuration = Envelope(customerID: customer.id, hostID: host.id, payload: AgentConfiguration(
                    revision: 3, managedRoots: [data.path], scanIntervalSeconds: 3600, exclusions: ["**/.snapshot/**"],
                    bandwidthBytesPerSecond: nil, maxConcurrentFiles: 4))
                try await commands.publish(AMQPMessage(body: try recallJob.encoded()), routingKey: agentQueue)
                try await commands.publish(AMQPMessage(body: try configuration.encoded()), routingKey: agentQueue)
                await commands.shutdown()
                try await waitUntil("the agent carried out the recall job", timeout: .seconds(30)) {
                    try await count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'recalled'") == 2
                }
                #expect(try Data(contentsOf: URL(fileURLWithPath: cold[1])) == originals[cold[1]])
                let stored = work.appendingPathComponent("agent-state/configuration.json")
                try await waitUntil("the agent stored its configuration", timeout: .seconds(10)) {
                    FileManager.default.fileExists(atPath: stored.path)
                }
                #expect(try AltoJSON.decoder().decode(AgentConfiguration.self, from: Data(contentsOf: stored)) == configuration.payload)
            }
        } catch {
            for service in services { print("---- \(service.name)\n\(service.log.suffix(4000))") }
            _ = await stopAll()
            throw error
        }
        let statuses = await stopAll()
        for (name, status) in statuses {
            #expect(status == 0, "\(name) did not shut down cleanly on SIGTERM")
        }
        try? FileManager.default.removeItem(at: work)
    }

    /// A follower of the notifications fan-out hears that the job finished, with the tenant and the counts.
    func expectTieringNotification(_ amqp: AMQPConfiguration, customer: UUID, tiered: Int) async throws {
        let consumer = AMQPConsumer(configuration: amqp, queue: "notifications.e2e", prefetch: 4, declarations: [], logger: TestServers.logger)
        var notification: Envelope<AltoNotification>?
        for await delivery in consumer.deliveries() {
            consumer.settle(delivery, .ack)
            if case .accepted(let envelope) = EnvelopeReader.read(AltoNotification.self, from: delivery.message.body),
               envelope.payload.event == "tier.finished" {
                notification = envelope
                break
            }
        }
        await consumer.close()
        let received = try #require(notification)
        #expect(received.customerID == customer)
        #expect(received.payload.counts["tiered"] == Int64(tiered))
        #expect((received.payload.counts["bytes_saved"] ?? 0) > 0)
    }

    func checkUploadRefusals(apiURL: String, customer: UUID, host: UUID, token: String) async throws {
        let csv = Data(ScanCSV.header.utf8)
        let good = ["X-Alto-Customer-Id": customer.uuidString, "X-Alto-Host-Id": host.uuidString]
        let wrongToken = try await send("\(apiURL)/api/v1/scan-results", body: csv, headers: good.merging(["Authorization": "Bearer nope"]) { _, n in n })
        #expect(wrongToken.0 == 401)
        let unknownHost = try await send("\(apiURL)/api/v1/scan-results", body: csv,
                                         headers: ["X-Alto-Customer-Id": customer.uuidString, "X-Alto-Host-Id": UUID().uuidString,
                                                   "Authorization": "Bearer \(token)"])
        #expect(unknownHost.0 == 400)
        #expect(unknownHost.1.contains("unknown_host"))
        let malformed = try await send("\(apiURL)/api/v1/scan-results", body: Data("path,size\n/x,1\n".utf8),
                                       headers: good.merging(["Authorization": "Bearer \(token)"]) { _, n in n })
        #expect(malformed.0 == 400)
        #expect(malformed.1.contains("\"error\""))
        let encoded = try await send("\(apiURL)/api/v1/scan-results", body: csv,
                                     headers: good.merging(["Authorization": "Bearer \(token)", "Content-Encoding": "br"]) { _, n in n })
        #expect(encoded.0 == 415)
    }

    func waitForHealth(port: Int) async throws {
        try await waitUntil("service on port \(port) is healthy", timeout: .seconds(30)) {
            (try? await send("http://127.0.0.1:\(port)/healthz", body: nil, headers: [:]).0) == 200
        }
    }

    func waitUntil(_ what: String, timeout: Duration, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestFailure("timed out waiting until \(what)")
    }

    func count(_ postgres: PostgresClient, _ sql: String) async throws -> Int {
        for try await value in try await postgres.query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) { return value }
        return 0
    }

    func post<Response: Decodable>(_ url: String, _ body: [String: any Sendable], headers: [String: String]) async throws -> Response {
        let json = try JSONSerialization.data(withJSONObject: body)
        let (status, text) = try await send(url, body: json, headers: headers.merging(["Content-Type": "application/json"]) { _, n in n })
        guard status == 201 else { throw TestFailure("POST \(url) answered \(status): \(text)") }
        return try JSONDecoder().decode(Response.self, from: Data(text.utf8))
    }

    func send(_ url: String, body: Data?, headers: [String: String]) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = body == nil ? "GET" : "POST"
        request.httpBody = body
        if body != nil { request.setValue("text/csv", forHTTPHeaderField: "Content-Type") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}

#if canImport(Glibc)
import Glibc
#endif
