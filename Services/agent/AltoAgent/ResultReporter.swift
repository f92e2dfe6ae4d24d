import AltoAMQP
import AltoModels
import Foundation
import Logging

/// Publishes what the agent did on `agent.results` (publisher confirms), so the actor updates jobs, registry and
/// inventory. A result that cannot be published is logged; the job's redelivery or the next scan repairs it.
struct ResultReporter: Sendable {
    let publisher: AMQPPublisher
    let customerID: UUID
    let hostID: UUID
    let logger: Logger

    func report(_ result: AgentResult, replyingTo correlationID: UUID? = nil) async {
        do {
            try await publish(result, correlationID: correlationID)
        } catch {
            logger.error("cannot report a result", metadata: ["error": "\(error)", "action": "\(result.action.rawValue)"])
        }
    }

    func publish(_ result: AgentResult, correlationID: UUID? = nil) async throws {
        var envelope = Envelope(customerID: customerID, hostID: hostID, payload: result)
        if let correlationID { envelope.correlationID = correlationID }
        try await publisher.publish(AMQPMessage(body: try envelope.encoded(), messageID: envelope.id.uuidString.lowercased()),
                                    routingKey: AMQPTopology.agentResults)
    }
}
