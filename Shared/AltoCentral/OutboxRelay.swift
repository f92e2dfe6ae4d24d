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

    /// The relay, unless `ALTO_OUTBOX_RELAY=false` leaves publishing to other replicas.
    public static func configured(settings: ServiceSettings, client: PostgresClient, publisher: AMQPPublisher,
                                  logger: Logger) -> [any Service] {
        guard settings.reader.bool(forKey: "alto.outbox.relay", default: true) else { return [] }
        return [OutboxRelay(client: client, publisher: publisher, logger: logger)]
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

    /// Publishes one batch and returns how many rows it sent. A row the broker refuses stays, with its reason and
    /// attempt count, and is retried after the others; it never holds back the rest of the batch.
    func relayBatch() async throws -> Int {
        // The relay publishes every tenant's messages: a sweep that spans tenants, and says so.
        try await client.acrossTenants(logger: logger) { connection in
            let rows = try await connection.query("""
                SELECT id, message_id, exchange, routing_key, body FROM outbox
                WHERE attempts = 0 OR last_attempt_at < now() - least(60, 2 ^ attempts) * interval '1 second'
                ORDER BY attempts, id LIMIT \(batchSize) FOR UPDATE SKIP LOCKED
                """, logger: logger)
            var claimed: [(Int64, UUID, String, String, ByteBuffer)] = []
            for try await row in rows.decode((Int64, UUID, String, String, ByteBuffer).self) {
                claimed.append(row)
            }
            guard !claimed.isEmpty else { return 0 }
            let outcomes = await withTaskGroup(of: (Int64, String?).self) { group in
                for (id, messageID, exchange, routingKey, body) in claimed {
                    group.addTask {
                        let message = AMQPMessage(body: Array(buffer: body), messageID: messageID.uuidString.lowercased())
                        do {
                            // A fan-out may have no followers yet; a message for a work queue must reach it.
                            try await publisher.publish(message, exchange: exchange, routingKey: routingKey, mandatory: exchange.isEmpty)
                            return (id, nil)
                        } catch {
                            return (id, String(describing: error))
                        }
                    }
                }
                return await group.reduce(into: [(Int64, String?)]()) { $0.append($1) }
            }
            let sent = outcomes.filter { $0.1 == nil }.map(\.0)
            try await connection.query("DELETE FROM outbox WHERE id = ANY(\(sent))", logger: logger)
            for case let (id, error?) in outcomes {
                logger.warning("outbox message not published, will retry", metadata: ["outbox.id": "\(id)", "error": "\(error)"])
                try await connection.query(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = \(error), last_attempt_at = now() WHERE id = \(id)", logger: logger)
            }
            published.increment(by: sent.count)
            return sent.count
        }
    }
}
