import AltoAMQP
import AltoModels
import Foundation
import Logging

/// Reads deliveries the way every consumer of a host's messages must, in one place.
public enum HostMessage {
    /// Decodes `delivery` as a `Payload` envelope about one host and hands it to `body`, with a logger that carries
    /// the tenant, the host and the message id. A message that cannot be read, or names no host, is dead-lettered
    /// with the reason; an error thrown by `body` is logged and settled as `failure` decides (retried by default).
    public static func handle<Payload: EnvelopePayload>(
        _ delivery: AMQPDelivery, as type: Payload.Type, logger: Logger,
        failure: (any Error) -> AMQPSettlement = { _ in .retry },
        _ body: (Envelope<Payload>, UUID, Logger) async throws -> AMQPSettlement
    ) async -> AMQPSettlement {
        let envelope: Envelope<Payload>
        switch EnvelopeReader.read(type, from: delivery.message.body) {
        case .refused(let reason): return .deadLetter(reason: reason)
        case .accepted(let accepted): envelope = accepted
        }
        guard let hostID = envelope.hostID else {
            return .deadLetter(reason: "a \(Payload.messageType) message needs host_id")
        }
        var logger = logger
        logger[metadataKey: "tenant"] = "\(envelope.customerID)"
        logger[metadataKey: "host"] = "\(hostID)"
        logger[metadataKey: "message"] = "\(envelope.id)"
        do {
            return try await body(envelope, hostID, logger)
        } catch {
            let settlement = failure(error)
            logger.error("handling \(Payload.messageType) failed", metadata: [
                "error": "\(String(reflecting: error))", "settlement": "\(settlement)",
            ])
            return settlement
        }
    }
}
