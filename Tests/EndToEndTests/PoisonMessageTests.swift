import AltoAMQP
import AltoModels
import AltoTestSupport
import Foundation
import PostgresNIO
import Testing

/// Messages that can never be handled end where an operator finds them, in bounded time, while the other tenants'
/// work goes on: a result naming a file the inventory does not have in `agent.results.dlq`, a row PostgreSQL would
/// refuse among the batch's rejects. (A message the database refuses for another reason is dead-lettered after its
/// counted failures: `AMQPTests`.)
@Suite(.timeLimit(.minutes(5))) struct PoisonMessageTests {
    let scans = ScanIngestTests()

    @Test func poisonEndsInItsDeadLetterQueueOrAmongTheRejectsWhileAnotherTenantIsIngested() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest", "alto-actor"])
        try await suite.whileRunning {
            let (customer, host, token) = try await suite.enrol("a-\(suite.run)")
            let (otherCustomer, otherHost, otherToken) = try await suite.enrol("b-\(suite.run)")
            let result = Envelope(customerID: customer, hostID: host, payload: AgentResult(
                jobID: nil, action: .tier, targetID: nil,
                files: [AgentResult.File(fileID: 987_654_321, filePath: "/srv/never-scanned.txt", outcome: .tiered,
                                         hash: String(repeating: "0", count: 64), size: 5, tieredLocation: "nowhere")]))
            // Sent as the host's agent sends it, with its own broker account.
            let account = try await suite.brokerAccount(customer: customer, host: host, token: token)
            let publisher = AMQPPublisher(configuration: account, logger: TestServers.logger)
            try await publisher.publish(AMQPMessage(body: try result.encoded(), messageID: result.id.uuidString.lowercased(),
                                                    userID: account.user),
                                        exchange: AMQPTopology.agentResultsExchange, routingKey: AMQPTopology.agentResults)
            await publisher.shutdown()

            let ancient = ScanCSV.header
                + "/srv/ancient.txt,5,0000-01-01T00:00:00Z,,,0644,carol,\n"
                + "/srv/recent.txt,5,2025-01-01T00:00:00Z,0000-12-31T23:59:59Z,,0644,carol,\n"
                + "/srv/fine.txt,5,2025-01-01T00:00:00Z,,,0644,carol,\n"
            let batch = UUID()
            let staged = try await scans.upload(suite, ancient, customer: customer, host: host, token: token, batch: batch)
            #expect(staged.0 == 202, "\(staged.1)")
            let other = try await scans.upload(suite, ScanCSV.header + "/srv/b.txt,7,2025-01-01T00:00:00Z,,,0644,bob,\n",
                                               customer: otherCustomer, host: otherHost, token: otherToken)
            #expect(other.0 == 202, "\(other.1)")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await scans.waitForIngest(postgres, host: otherHost)
                try await scans.waitForIngest(postgres, host: host)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE host_id = '\(otherHost)'") == 1)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE host_id = '\(host)'") == 1)
                var reasons: [String: String] = [:]
                for try await (path, reason) in try await postgres.query(
                    "SELECT file_path, reason FROM scan_staging.rejects WHERE batch_id = \(batch)", logger: TestServers.logger
                ).decode((String?, String).self) {
                    reasons[path ?? ""] = reason
                }
                #expect(reasons["/srv/ancient.txt"]?.contains("last_modified is outside the years 1 to 9999") == true, "\(reasons)")
                #expect(reasons["/srv/recent.txt"]?.contains("last_accessed is outside the years 1 to 9999") == true, "\(reasons)")

                let started = ContinuousClock.now
                var deadLettered: AMQPMessage?
                try await RunningSuite.waitUntil("the result for an unknown file is dead-lettered", timeout: .seconds(60)) {
                    deadLettered = try await suite.drain(AMQPTopology.deadLetterQueue(for: AMQPTopology.agentResults), quiet: .seconds(1))
                        .first { $0.messageID == result.id.uuidString.lowercased() }
                    return deadLettered != nil
                }
                let reason = deadLettered?.headers[AMQPTopology.deadLetterReasonHeader] ?? ""
                #expect(reason == "file 987654321 at /srv/never-scanned.txt is not a file of host \(host)", "\(reason)")
                #expect(ContinuousClock.now - started < .seconds(60))
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry") == 0)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM processed_messages WHERE message_id = '\(result.id)'") == 0)
            }
        }
        try? FileManager.default.removeItem(at: suite.work)
    }
}
