import Foundation

/// A message payload: each carries the envelope `type` it travels under, written in one place.
public protocol EnvelopePayload: Codable, Sendable, Equatable {
    static var messageType: String { get }
}

/// The one JSON shape every queue carries (DESIGN.md, "Messages").
///
/// `customer_id` is on every envelope because every message belongs to one tenant; `host_id` is present for
/// messages about one host. `attempt` counts deliveries the sender made, not broker redeliveries.
public struct Envelope<Payload: EnvelopePayload>: Codable, Sendable, Equatable {
    public static var schemaName: String { "alto.envelope" }
    /// The major version this build writes and accepts.
    public static var currentVersion: Int { 1 }

    public var schema: String
    public var version: Int
    public var type: String
    public var id: UUID
    public var correlationID: UUID
    public var customerID: UUID
    public var hostID: UUID?
    public var createdAt: Date
    public var attempt: Int
    public var payload: Payload

    public init(id: UUID = UUID(), correlationID: UUID? = nil, customerID: UUID, hostID: UUID?,
                createdAt: Date = Date(), attempt: Int = 1, payload: Payload) {
        self.schema = Self.schemaName
        self.version = Self.currentVersion
        self.type = Payload.messageType
        self.id = id
        self.correlationID = correlationID ?? id
        self.customerID = customerID
        self.hostID = hostID
        self.createdAt = createdAt
        self.attempt = attempt
        self.payload = payload
    }

    /// A follow-up message in the same conversation: same tenant and correlation, a new id.
    public func reply<Next: EnvelopePayload>(_ payload: Next, hostID: UUID? = nil) -> Envelope<Next> {
        Envelope<Next>(correlationID: correlationID, customerID: customerID, hostID: hostID ?? self.hostID, payload: payload)
    }

    enum CodingKeys: String, CodingKey {
        case schema, version, type, id
        case correlationID = "correlation_id"
        case customerID = "customer_id"
        case hostID = "host_id"
        case createdAt = "created_at"
        case attempt, payload
    }

    public func encoded() throws -> [UInt8] {
        Array(try AltoJSON.encoder().encode(self))
    }
}
