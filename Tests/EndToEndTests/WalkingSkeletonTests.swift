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
@Suite(.timeLimit(.minutes(5))) struct WalkingSkeletonTests {
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
        try FileManager.default.createDirectory(at: tier2, withIntermediateDirectories: true)

        var generated: [String: Data] = [:]
        for (name, size, old) in [("archive/2019/q1, \"final\".pdf", 2 << 20, true), ("archive/2019/video.mp4", 5 << 20, true),
                                  ("archive/2019/tiny.txt", 100, true), ("current/draft.docx", 1 << 20, false)] {
            let path = data.appendingPathComponent(name).path
            generated[path] = try ColdFile.write(path, size: size, cold: old)
        }
        let originals = generated
        let cold = originals.keys.filter { $0.contains("archive") && !$0.hasSuffix("tiny.txt") }.sorted()

        let suite = try await RunningSuite(["alto-api", "alto-ingest", "alto-planner", "alto-actor", "alto-sanitizer"])
        let amqp = try AMQPConfiguration(url: suite.amqpURL)
        let follower = AMQPPublisher(configuration: amqp, logger: TestServers.logger)
        try await follower.declare([.exchange(AMQPTopology.notificationsExchange, type: "fanout"),
                                    .boundQueue("notifications.e2e", exchange: AMQPTopology.notificationsExchange, routingKey: "")])
        await follower.shutdown()
        try await suite.whileRunning {
            let customer: Created = try await suite.post("/api/v1/customers", ["name": "e2e-\(suite.run)"])
            let host: Created = try await suite.post("/api/v1/customers/\(customer.id)/hosts", ["hostname": "fs-\(suite.run)"])
            let target: Created = try await suite.post("/api/v1/storage-targets",
                                                       ["name": "tier2", "kind": "filesystem", "location": tier2.path],
                                                       customer: customer.id)
            let _: Created = try await suite.post("/api/v1/rules", [
                "name": "cold archive", "priority": 1, "path_globs": ["\(data.path)/archive/**"],
                "min_days_since_modified": 180, "min_size": 4096, "target_id": target.id.uuidString,
            ] as [String: any Sendable], customer: customer.id)
            let token = try #require(host.agent_token)

            let agentEnvironment = suite.agentEnvironment(customer: customer.id, host: host.id, token: token)
                .merging(["ALTO_AGENT_SCAN_ROOTS": data.path]) { _, new in new }
            try await suite.launch("alto-agent", arguments: ["run"], environment: agentEnvironment)
            let (scanStatus, scanOutput) = try await ServiceProcess.run("alto-agent", arguments: ["scan", data.path], environment: agentEnvironment)
            #expect(scanStatus == 0, "\(scanOutput)")

            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("the cold files are stubs", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE is_stubbed") == cold.count
                }
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE deleted_at IS NULL") == originals.count)
                for try await (path, size) in try await postgres.query("SELECT file_path, file_size FROM file_inventory", logger: TestServers.logger).decode((String, Int64).self) {
                    #expect(Int64(originals[path]?.count ?? -1) == size, "inventory size of \(path)")
                }
                var registry: [String: (String, String)] = [:]
                for try await (path, location, hash) in try await postgres.query(
                    "SELECT file_path, tiered_location, hash FROM stub_registry WHERE state = 'active'"
                , logger: TestServers.logger).decode((String, String, String).self) {
                    registry[path] = (location, hash)
                }
                #expect(registry.keys.sorted() == cold)
                for path in cold {
                    let (location, hash) = try #require(registry[path])
                    #expect(hash == ContentHash.of(originals[path]!), "registry hash of \(path)")
                    // The copy is sealed with a data key of the tenant's: only the tenant's key opens it.
                    let record = try #require(try StubFile.record(at: path))
                    #expect(record.encryption?.provider == "local")
                    let copy = try Data(contentsOf: URL(fileURLWithPath: location))
                    #expect(copy.prefix(8) == Data("ALTOGCM1".utf8) && copy.range(of: originals[path]!.prefix(64)) == nil, "tier-2 copy of \(path) is encrypted")
                    #expect(ContentHash.of(try await TierTestKeys.content(of: location, record: record, environment: agentEnvironment)) == hash,
                            "tier-2 copy of \(path) opens with the tenant's key")
                    #expect(location.hasPrefix(tier2.path + "/" + customer.id.uuidString.lowercased()))
                    #expect(try StubFile.allocatedBytes(path) < Int64(originals[path]!.count) / 10, "blocks of \(path) were released")
                    #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == originals[path]!.count)
                }
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs WHERE state = 'done'") == 1)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE action = 'file.tier' AND result = 'tiered'") == cold.count)
                try await expectTieringNotification(amqp, customer: customer.id, tiered: cold.count)
                try await RunningSuite.waitUntil("the outbox is drained", timeout: .seconds(10)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM outbox") == 0
                }

                let recalled = cold[0]
                let (recallStatus, recallOutput) = try await ServiceProcess.run("alto-agent", arguments: ["recall", recalled], environment: agentEnvironment)
                #expect(recallStatus == 0, "\(recallOutput)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: recalled)) == originals[recalled])
                #expect(try StubFile.record(at: recalled) == nil)
                try await RunningSuite.waitUntil("the registry knows of the recall", timeout: .seconds(30)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'recalled'") == 1
                }
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE is_stubbed") == cold.count - 1)

                let commands = AMQPPublisher(configuration: amqp, logger: TestServers.logger)
                let agentQueue = AMQPTopology.agentQueue(customerID: customer.id.uuidString, hostID: host.id.uuidString)
                let recallJob = Envelope(customerID: customer.id, hostID: host.id, payload: RecallJob(
                    jobID: UUID(), files: [RecallJob.File(fileID: nil, filePath: cold[1])], requestedBy: "e2e"))
                let configuration = Envelope(customerID: customer.id, hostID: host.id, payload: AgentConfiguration(
                    revision: 3, managedRoots: [data.path], scanIntervalSeconds: 3600, exclusions: ["**/.snapshot/**"],
                    bandwidthBytesPerSecond: nil, maxConcurrentFiles: 4))
                try await commands.publish(AMQPMessage(body: try recallJob.encoded()), routingKey: agentQueue)
                try await commands.publish(AMQPMessage(body: try configuration.encoded()), routingKey: agentQueue)
                await commands.shutdown()
                try await RunningSuite.waitUntil("the agent carried out the recall job", timeout: .seconds(30)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'recalled'") == 2
                }
                #expect(try Data(contentsOf: URL(fileURLWithPath: cold[1])) == originals[cold[1]])
                let stored = suite.work.appendingPathComponent("agent-state/configuration.json")
                try await RunningSuite.waitUntil("the agent stored its configuration", timeout: .seconds(10)) {
                    FileManager.default.fileExists(atPath: stored.path)
                }
                #expect(try AltoJSON.decoder().decode(AgentConfiguration.self, from: Data(contentsOf: stored)) == configuration.payload)
            }
        }
        try? FileManager.default.removeItem(at: work)
        try? FileManager.default.removeItem(at: suite.work)
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
}

