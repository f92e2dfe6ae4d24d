import AltoAMQP
import AltoModels
import AltoTestSupport
import Foundation
import PostgresNIO
import Synchronization
import Testing

/// Each host's agent has a broker account of its own, issued by the API: it reads its own queue and publishes its
/// results, and nothing else; the actor takes a result only from the account of the host it is about, for a job,
/// file and target of that host; a revoked token ends the account.
@Suite(.timeLimit(.minutes(5))) struct BrokerIdentityTests {
    @Test func aHostsAccountReachesItsOwnQueueAndResultsAndNothingElseUntilRevoked() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-actor"])
        try await suite.whileRunning {
            let a = try await suite.enrol("a-\(suite.run)")
            let b = try await suite.enrol("b-\(suite.run)")
            let accountA = try await suite.brokerAccount(customer: a.customer, host: a.host, token: a.token)
            let accountB = try await suite.brokerAccount(customer: b.customer, host: b.host, token: b.token)
            let queueA = AMQPTopology.agentQueue(customerID: a.customer.uuidString, hostID: a.host.uuidString)
            let queueB = AMQPTopology.agentQueue(customerID: b.customer.uuidString, hostID: b.host.uuidString)
            #expect(accountA.user == AMQPTopology.agentUser(hostID: a.host.uuidString))
            #expect(accountA.password != accountB.password)

            let central = AMQPPublisher(configuration: try AMQPConfiguration(url: suite.amqpURL), logger: TestServers.logger)
            try await central.publish(AMQPMessage(body: Array("for a".utf8)), routingKey: queueA)
            try await central.publish(AMQPMessage(body: Array("for b".utf8)), routingKey: queueB)
            await central.shutdown()

            let own = CapturedLogs()
            #expect(await Self.first(accountA, queueA, logs: own)?.body == Array("for a".utf8), "an agent reads its own queue")
            let foreign = CapturedLogs()
            #expect(await Self.first(accountA, queueB, logs: foreign) == nil, "host A cannot consume host B's queue")
            #expect(foreign.allWithMetadata.contains { $0.contains("ACCESS_REFUSED") }, "\(foreign.allWithMetadata.suffix(3))")
            #expect(await Self.first(accountB, queueB, logs: CapturedLogs())?.body == Array("for b".utf8), "B's command is still B's")

            let logs = CapturedLogs()
            let publisherA = AMQPPublisher(configuration: accountA, logger: logs.logger())
            let planted = UUID().uuidString
            await #expect(throws: AMQPError.self, "host A cannot publish to tiering.jobs") {
                try await publisherA.publish(AMQPMessage(body: Array("{}".utf8), messageID: planted), routingKey: AMQPTopology.tieringJobs)
            }
            await #expect(throws: AMQPError.self, "host A cannot follow the notifications") {
                try await publisherA.declare([.followerQueue("listening-\(suite.run)", exchange: AMQPTopology.notificationsExchange,
                                                             expiresAfter: .seconds(60))])
            }
            await #expect(throws: AMQPError.self, "host A cannot bind its own queue to the notifications") {
                try await publisherA.declare([.binding(queue: queueA, exchange: AMQPTopology.notificationsExchange, routingKey: "")])
            }
            let result = Envelope(customerID: a.customer, hostID: a.host, payload: AgentResult(jobID: nil, action: .recall, targetID: nil, files: []))
            await #expect(throws: AMQPError.self, "host A cannot sign as host B") {
                try await publisherA.publish(AMQPMessage(body: try result.encoded(), userID: accountB.user),
                                             exchange: AMQPTopology.agentResultsExchange, routingKey: AMQPTopology.agentResults)
            }
            #expect(try await suite.drain(AMQPTopology.tieringJobs).allSatisfy { $0.messageID != planted })

            // Results the broker lets through, which the actor refuses: about another host, or naming its job.
            let jobOfB = try await Self.makeJob(suite, customer: b.customer, host: b.host)
            let aboutB = Envelope(customerID: b.customer, hostID: b.host, payload: AgentResult(
                jobID: nil, action: .recall, targetID: nil, files: [AgentResult.File(fileID: nil, filePath: "/srv/x", outcome: .recalled, size: 1)]))
            let namingB = Envelope(customerID: a.customer, hostID: a.host, payload: AgentResult(
                jobID: jobOfB, action: .tier, targetID: nil, files: [AgentResult.File(fileID: 1, filePath: "/srv/x", outcome: .tiered,
                                                                                     hash: "sha256:00", size: 1, tieredLocation: "x")]))
            for envelope in [aboutB, namingB] {
                try await publisherA.publish(AMQPMessage(body: try envelope.encoded(), messageID: envelope.id.uuidString.lowercased(),
                                                         userID: accountA.user),
                                             exchange: AMQPTopology.agentResultsExchange, routingKey: AMQPTopology.agentResults)
            }
            var reasons: [String: String] = [:]
            try await RunningSuite.waitUntil("both results are dead-lettered", timeout: .seconds(60)) {
                for message in try await suite.drain(AMQPTopology.deadLetterQueue(for: AMQPTopology.agentResults), quiet: .seconds(1)) {
                    reasons[message.messageID ?? ""] = message.headers[AMQPTopology.deadLetterReasonHeader]
                }
                return reasons.count == 2
            }
            #expect(reasons[aboutB.id.uuidString.lowercased()]?.contains("must be published by its broker account \(accountB.user)") == true,
                    "\(reasons)")
            #expect(reasons[namingB.id.uuidString.lowercased()] == "tiering job \(jobOfB) is not a job of host \(a.host)", "\(reasons)")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let recorded = try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE action LIKE 'file.%'")
                #expect(recorded == 0, "nothing of either result was recorded")
            }

            // Revoked: the account is gone with the token, and its login with it.
            let (revoked, _) = try await suite.send("DELETE", suite.apiURL + "/api/v1/hosts/\(a.host)/agent-token", body: nil,
                                                    headers: RunningSuite.adminHeaders.merging(["X-Alto-Customer-Id": a.customer.uuidString]) { _, new in new })
            #expect(revoked == 204)
            let after = CapturedLogs()
            let refused = AMQPPublisher(configuration: accountA, logger: after.logger())
            await #expect(throws: AMQPError.self, "a revoked host's account cannot connect") {
                try await refused.publish(AMQPMessage(body: try result.encoded(), userID: accountA.user),
                                          exchange: AMQPTopology.agentResultsExchange, routingKey: AMQPTopology.agentResults)
            }
            #expect(after.allWithMetadata.contains { $0.contains("login as \(accountA.user)") }, "\(after.allWithMetadata.suffix(3))")
            let (status, _) = try await suite.send("POST", suite.apiURL + "/api/v1/agent/broker-account", body: nil, headers: [
                "Authorization": "Bearer \(a.token)", "X-Alto-Customer-Id": a.customer.uuidString])
            #expect(status == 401, "a revoked token gets no new account")
            await refused.shutdown()
            await publisherA.shutdown()
        }
        try? FileManager.default.removeItem(at: suite.work)
    }

    /// The first message `configuration` can take off `queue` within a few seconds, or nil.
    static func first(_ configuration: AMQPConfiguration, _ queue: String, logs: CapturedLogs) async -> AMQPMessage? {
        let consumer = AMQPConsumer(configuration: configuration, queue: queue, prefetch: 1, declarations: [], logger: logs.logger())
        let reader = Task { () -> AMQPMessage? in
            for await delivery in consumer.deliveries() {
                consumer.settle(delivery, .ack)
                return delivery.message
            }
            return nil
        }
        let timer = Task {
            try? await Task.sleep(for: .seconds(4))
            consumer.stop()
        }
        let message = await reader.value
        timer.cancel()
        consumer.stop()
        await consumer.close()
        return message
    }

    /// A tiering job of `host`, with the target and rule it needs, written as the schema's owner.
    static func makeJob(_ suite: RunningSuite, customer: UUID, host: UUID) async throws -> UUID {
        let (target, rule, job) = (UUID(), UUID(), UUID())
        try await TestServers.withPostgres(suite.databaseURL) { postgres in
            for sql in [
                "INSERT INTO storage_targets (id, customer_id, name, kind, location) VALUES ('\(target)', '\(customer)', 't', 'filesystem', '/t')",
                "INSERT INTO rules (id, customer_id, name, priority, target_id) VALUES ('\(rule)', '\(customer)', 'r', 1, '\(target)')",
                """
                INSERT INTO tiering_jobs (id, customer_id, host_id, rule_id, rule_version, target_id, priority, file_count, total_bytes,
                    estimated_space_saved, estimated_duration_seconds)
                VALUES ('\(job)', '\(customer)', '\(host)', '\(rule)', 1, '\(target)', 1, 0, 0, 0, 0)
                """,
            ] {
                try await postgres.query(PostgresQuery(unsafeSQL: sql), logger: TestServers.logger)
            }
        }
        return job
    }
}
