import AltoAMQP
import AltoStore
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle

/// Publishes committed outbox rows with publisher confirms and deletes them once confirmed.
///
/// Rows are claimed with `FOR UPDATE SKIP LOCKED`, so any number of replicas relay in parallel without sending a
/// row twice; a crash after publishing and before deleting sends it again, which consumers absorb by envelope id.
public struct OutboxRelay: Service {
    private let client: PostgresClient
    private let publisher: AMQPPublisher
    private let logger: Logger
    private let pollInterval: Duration
    private let batchSize: Int
    private let published = Counter(label: "alto_outbox_published_total")

    public init(client: PostgresClient, publisher: AMQPPublisher, logger: Logger,
                pollInterval: Duration = .milliseconds(100), batchSize: Int = 200) {
        self.client = client
        self.publisher = publisher
        self.logger = logger
        self.pollInterval = pollInterval
        self.batchSize = batchSize
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let count: Int
            do {
                count = try await relayBatch()
            } catch {
                logger.warning("outbox relay failed, will retry", metadata: ["error": "\(String(reflecting: error))"])
                count = 0
            }
            if count == 0 {
                try? await Task.sleep(for: pollInterval)
            }
        }
    }

    /// Publishes one batch and returns how many rows it sent.
    func relayBatch() async throws -> Int {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query("""
                SELECT id, message_id, exchange, routing_key, body FROM outbox
                ORDER BY id LIMIT \(batchSize) FOR UPDATE SKIP LOCKED
                """, logger: logger)
            var claimed: [(Int64, UUID, String, String, ByteBuffer)] = []
            for try await row in rows.decode((Int64, UUID, String, String, ByteBuffer).self) {
                claimed.append(row)
            }
            guard !claimed.isEmpty else { return 0 }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (_, messageID, exchange, routingKey, body) in claimed {
                    group.addTask {
                        let message = AMQPMessage(body: Array(buffer: body), messageID: messageID.uuidString.lowercased())
                        try await publisher.publish(message, exchange: exchange, routingKey: routingKey)
                    }
                }
                try await group.waitForAll()
            }
            let ids = claimed.map(\.0)
            try await connection.query("DELETE FROM outbox WHERE id = ANY(\(ids))", logger: logger)
            published.increment(by: claimed.count)
            return claimed.count
        }
    }
}
