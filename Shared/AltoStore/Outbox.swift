import AltoModels
import Foundation
import Logging
import PostgresNIO

/// Messages stored in the same transaction as the state change they announce; a relay publishes them after commit,
/// so a crash between the two neither loses nor invents a message.
public enum Outbox {
    /// Stores an envelope for the default exchange, routed to `queue`.
    public static func enqueue<Payload: EnvelopePayload>(_ envelope: Envelope<Payload>, queue: String,
                                                         on connection: PostgresConnection, logger: Logger) async throws {
        try await enqueue(envelope, exchange: "", routingKey: queue, on: connection, logger: logger)
    }

    public static func enqueue<Payload: EnvelopePayload>(_ envelope: Envelope<Payload>, exchange: String, routingKey: String,
                                                         on connection: PostgresConnection, logger: Logger) async throws {
        let body = ByteBuffer(bytes: try envelope.encoded())
        try await connection.query("""
            INSERT INTO outbox (message_id, customer_id, exchange, routing_key, body)
            VALUES (\(envelope.id), \(envelope.customerID), \(exchange), \(routingKey), \(body))
            """, logger: logger)
    }

    /// An envelope encoded, so that the encoding can run while the connection is busy with something else.
    public struct Message: Sendable {
        public let id: UUID
        public let customerID: UUID
        public let body: ByteBuffer

        public init<Payload: EnvelopePayload>(_ envelope: Envelope<Payload>) throws {
            id = envelope.id
            customerID = envelope.customerID
            body = ByteBuffer(bytes: try envelope.encoded())
        }
    }

    /// Stores encoded envelopes for the default exchange, routed to `queue`, in one statement however many there are.
    public static func enqueue(_ messages: [Message], queue: String, on connection: PostgresConnection,
                               logger: Logger) async throws {
        guard !messages.isEmpty else { return }
        try await connection.query("""
            INSERT INTO outbox (message_id, customer_id, exchange, routing_key, body)
            SELECT message_id, customer_id, '', \(queue), body
            FROM unnest(\(messages.map(\.id)), \(messages.map(\.customerID)), \(messages.map(\.body)))
                AS message (message_id, customer_id, body)
            """, logger: logger)
    }

    /// Records that `consumer` applied `messageID` of `customerID`; false when it already had, so the caller skips
    /// the work.
    public static func markProcessed(consumer: String, messageID: UUID, customerID: UUID, on connection: PostgresConnection,
                                     logger: Logger) async throws -> Bool {
        let rows = try await connection.query("""
            INSERT INTO processed_messages (consumer, message_id, customer_id) VALUES (\(consumer), \(messageID), \(customerID))
            ON CONFLICT DO NOTHING RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }
}
