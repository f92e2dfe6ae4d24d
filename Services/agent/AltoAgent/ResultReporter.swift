import AltoAMQP
import AltoModels
import Crypto
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Reports what the agent did on `agent.results`, so the actor updates jobs, registry and inventory. A result is
/// first kept in the `ResultSpool`, then published with publisher confirms by `run` (the agent's sender), which
/// retries until the broker takes it; a broker that is down for hours loses nothing. Each result has an id of its
/// own that every retry reuses, and the results of a job have ids derived from the job, so the actor, which
/// records each message id once, counts a replay once.
final class ResultReporter: Service, Sendable {
    let publisher: AMQPPublisher
    let spool: ResultSpool
    let customerID: UUID
    let hostID: UUID
    let logger: Logger
    /// Set when a result is spooled, so the sender sends it at once rather than at its next look.
    private let spooled = Atomic<Bool>(false)

    init(publisher: AMQPPublisher, spool: ResultSpool, customerID: UUID, hostID: UUID, logger: Logger) {
        self.publisher = publisher
        self.spool = spool
        self.customerID = customerID
        self.hostID = hostID
        self.logger = logger
    }

    /// Spools `result` for sending; `id` names it for good (a random one when nil). Only a full or broken disk
    /// loses it, and then it is logged.
    func report(_ result: AgentResult, replyingTo correlationID: UUID? = nil, id: UUID? = nil) {
        do {
            var envelope = Envelope(id: id ?? UUID(), customerID: customerID, hostID: hostID, payload: result)
            if let correlationID { envelope.correlationID = correlationID }
            try spool.append(try envelope.encoded(), messageID: envelope.id.uuidString.lowercased())
            spooled.store(true, ordering: .releasing)
        } catch {
            logger.error("cannot keep a result for sending", metadata: ["error": "\(error)", "action": "\(result.action.rawValue)"])
        }
    }

    /// The id of the result that answers `job` from the journal, or of a recall job's result for one delivery: the
    /// same whenever it is made again, so however often a job is delivered, its answer is recorded once.
    static func id(answering job: UUID, delivery: String = "journal") -> UUID {
        let digest = Array(SHA256.hash(data: Data("agent.result/\(job)/\(delivery)".utf8)))
        var bytes = Array(digest.prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }

    /// Sends what is spooled, oldest first, until shutdown; a failed send is retried with backoff up to a minute.
    func run() async throws {
        spool.removeLeftovers()
        var delay = Duration.seconds(1)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if await sendPending() {
                delay = .seconds(1)
                let lookAgain = ContinuousClock.now + .seconds(5)
                while !spooled.exchange(false, ordering: .acquiringAndReleasing) && ContinuousClock.now < lookAgain
                        && !Task.isShuttingDownGracefully {
                    try? await Task.sleep(for: .milliseconds(50))
                }
            } else {
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(60))
            }
        }
        _ = await sendPending()
    }

    /// Publishes every spooled result; false when one could not be (the rest wait behind it, keeping the order).
    func sendPending() async -> Bool {
        for entry in spool.pending() {
            do {
                // Signed with the host's own broker account, which the broker checks and the actor requires.
                try await publisher.publish(AMQPMessage(body: entry.body, messageID: entry.messageID,
                                                        userID: AMQPTopology.agentUser(hostID: hostID.uuidString)),
                                            exchange: AMQPTopology.agentResultsExchange, routingKey: AMQPTopology.agentResults)
                spool.remove(entry)
            } catch {
                logger.warning("a result waits for the broker", metadata: ["error": "\(error)", "waiting": "\(spool.pending().count)"])
                return false
            }
        }
        return true
    }
}
