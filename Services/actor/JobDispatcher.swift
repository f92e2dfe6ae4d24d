import AltoAMQP
import AltoModels
import AltoStore
import Foundation
import Logging
import Metrics
import PostgresNIO

/// Routes a planned job to its host's own queue, and marks it dispatched in the same transaction that queues the
/// message, so a job is dispatched once however often `tiering.jobs` redelivers it.
struct JobDispatcher: Sendable {
    let postgres: PostgresClient
    let publisher: AMQPPublisher
    let logger: Logger
    private let dispatched = Counter(label: "alto_actor_jobs_dispatched_total")

    init(postgres: PostgresClient, publisher: AMQPPublisher, logger: Logger) {
        self.postgres = postgres
        self.publisher = publisher
        self.logger = logger
    }

    func handle(_ delivery: AMQPDelivery) async -> AMQPSettlement {
        let envelope: Envelope<TieringJob>
        switch EnvelopeReader.read(TieringJob.self, from: delivery.message.body) {
        case .refused(let reason): return .deadLetter(reason: reason)
        case .accepted(let accepted): envelope = accepted
        }
        guard let hostID = envelope.hostID else { return .deadLetter(reason: "a tiering job needs host_id") }
        var logger = self.logger
        logger[metadataKey: "tenant"] = "\(envelope.customerID)"
        logger[metadataKey: "job"] = "\(envelope.payload.jobID)"
        let queue = AMQPTopology.agentQueue(hostID: hostID.uuidString)
        do {
            try await publisher.declare([.workQueue(queue)])
            let sent = try await postgres.withTransaction(logger: logger) { connection -> Bool in
                let rows = try await connection.query("""
                    UPDATE tiering_jobs SET state = 'dispatched', dispatched_at = now(), updated_at = now()
                    WHERE id = \(envelope.payload.jobID) AND customer_id = \(envelope.customerID) AND host_id = \(hostID)
                      AND state = 'queued'
                    RETURNING 1
                    """, logger: logger)
                for try await _ in rows {
                    try await Outbox.enqueue(envelope.reply(envelope.payload), queue: queue, on: connection, logger: logger)
                    return true
                }
                return false
            }
            if sent {
                dispatched.increment()
                logger.info("job dispatched", metadata: ["queue": "\(queue)", "files": "\(envelope.payload.files.count)"])
            } else {
                logger.info("job already dispatched or unknown; nothing to do")
            }
            return .ack
        } catch {
            logger.error("dispatch failed, will retry", metadata: ["error": "\(String(reflecting: error))"])
            return .retry
        }
    }
}
