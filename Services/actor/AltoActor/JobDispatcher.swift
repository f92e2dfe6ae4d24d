import AltoAMQP
import AltoCentral
import AltoModels
import AltoRuntime
import AltoStore
import Foundation
import Logging
import Metrics
import PostgresNIO

/// Routes a planned tiering job or a requested recall to its host's own queue, and marks it dispatched in the same
/// transaction that queues the message, so a job is dispatched once however often `tiering.jobs` redelivers it.
struct JobDispatcher: Sendable {
    enum Outcome: Sendable {
        case sent, waiting, alreadyDone
    }

    let postgres: PostgresClient
    let publisher: AMQPPublisher
    let jobs: TieringJobStore
    let gate: DispatchGate
    let logger: Logger
    private let dispatched = Counter(label: "alto_actor_jobs_dispatched_total")

    init(postgres: PostgresClient, publisher: AMQPPublisher, jobs: TieringJobStore, gate: DispatchGate, logger: Logger) {
        self.postgres = postgres
        self.publisher = publisher
        self.jobs = jobs
        self.gate = gate
        self.logger = logger
    }

    func handle(_ delivery: AMQPDelivery) async -> AMQPSettlement {
        switch EnvelopeReader.header(of: delivery.message.body) {
        case .refused(let reason):
            return .deadLetter(reason: reason)
        case .accepted(let header) where header.type == RecallJob.messageType:
            return await dispatchRecall(delivery)
        case .accepted:
            return await dispatchTiering(delivery)
        }
    }

    /// Recalls have no per-host or per-target limit: a user is waiting, and the agent runs them beside tiering.
    private func dispatchRecall(_ delivery: AMQPDelivery) async -> AMQPSettlement {
        await HostMessage.handle(delivery, as: RecallJob.self, logger: logger,
                                 failure: MessageFailure.settlement) { envelope, hostID, logger in
            let queue = AMQPTopology.agentQueue(customerID: envelope.customerID.uuidString, hostID: hostID.uuidString)
            try await publisher.declare([.workQueue(queue)])
            try await postgres.withTenant(envelope.customerID, logger: logger) { connection in
                let rows = try await connection.query("""
                    UPDATE recall_jobs SET state = 'dispatched', dispatched_at = now()
                    WHERE id = \(envelope.payload.jobID) AND customer_id = \(envelope.customerID) AND host_id = \(hostID)
                      AND state = 'queued'
                    RETURNING 1
                    """, logger: logger)
                for try await _ in rows {
                    try await Outbox.enqueue(envelope.reply(envelope.payload), queue: queue, on: connection, logger: logger)
                    logger.info("recall dispatched", metadata: ["job": "\(envelope.payload.jobID)", "files": "\(envelope.payload.files.count)"])
                }
            }
            return .ack
        }
    }

    private func dispatchTiering(_ delivery: AMQPDelivery) async -> AMQPSettlement {
        await HostMessage.handle(delivery, as: TieringJob.self, logger: logger,
                                 failure: MessageFailure.settlement) { envelope, hostID, logger in
            let queue = AMQPTopology.agentQueue(customerID: envelope.customerID.uuidString, hostID: hostID.uuidString)
            try await publisher.declare([.workQueue(queue)])
            let outcome = try await postgres.withTenant(envelope.customerID, logger: logger) { connection -> Outcome in
                guard var job = try await jobs.lock(envelope.payload.jobID, customerID: envelope.customerID, hostID: hostID,
                                                    on: connection, logger: logger) else { return .alreadyDone }
                var slotFree = false
                if job.state == .queued && job.isDue {
                    slotFree = try await gate.admits(hostID: hostID, targetID: envelope.payload.target.id, on: connection, logger: logger)
                }
                let actions = try await jobs.handle(.dispatchRequested(due: job.isDue, slotFree: slotFree), for: &job,
                                                    on: connection, logger: logger)
                guard actions.contains(.sendToAgent) else { return job.state == .queued ? .waiting : .alreadyDone }
                try await Outbox.enqueue(envelope.reply(envelope.payload), queue: queue, on: connection, logger: logger)
                return .sent
            }
            switch outcome {
            case .sent:
                dispatched.increment()
                logger.info("job dispatched", metadata: ["job": "\(envelope.payload.jobID)", "queue": "\(queue)",
                                                         "files": "\(envelope.payload.files.count)"])
            case .waiting:
                logger.info("job waits for a free slot; the sweeper dispatches it", metadata: ["job": "\(envelope.payload.jobID)"])
            case .alreadyDone:
                logger.info("job already dispatched or unknown; nothing to do", metadata: ["job": "\(envelope.payload.jobID)"])
            }
            return .ack
        }
    }
}
