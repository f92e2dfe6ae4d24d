import Foundation

/// Reads an incoming message under the version rules: its own major version is accepted and unknown fields are
/// ignored; an unknown version or type, or a payload that does not decode, is refused with a reason to dead-letter.
public enum EnvelopeReader {
    /// The routing facts of an envelope, readable before its payload type is known.
    public struct Header: Decodable, Sendable, Equatable {
        public var schema: String
        public var version: Int
        public var type: String
        public var id: UUID
        public var customerID: UUID
        public var hostID: UUID?

        enum CodingKeys: String, CodingKey {
            case schema, version, type, id
            case customerID = "customer_id"
            case hostID = "host_id"
        }
    }

    public enum Outcome<Message: Sendable>: Sendable {
        case accepted(Message)
        /// The message can never be processed; the reason goes with it to the dead-letter queue.
        case refused(reason: String)
    }

    /// Reads the header and checks schema and version, whatever the type.
    public static func header(of body: [UInt8]) -> Outcome<Header> {
        let header: Header
        do {
            header = try AltoJSON.decoder().decode(Header.self, from: Data(body))
        } catch {
            return .refused(reason: "not an Alto envelope: \(AltoJSON.describe(error))")
        }
        guard header.schema == "alto.envelope" else {
            return .refused(reason: "unknown schema \(header.schema)")
        }
        guard header.version == Envelope<IngestJob>.currentVersion else {
            return .refused(reason: "unsupported envelope version \(header.version); this build reads version \(Envelope<IngestJob>.currentVersion)")
        }
        return .accepted(header)
    }

    /// Reads a whole envelope whose type must be `Payload`'s.
    public static func read<Payload: EnvelopePayload>(_ type: Payload.Type, from body: [UInt8]) -> Outcome<Envelope<Payload>> {
        switch header(of: body) {
        case .refused(let reason):
            return .refused(reason: reason)
        case .accepted(let header):
            guard header.type == Payload.messageType else {
                return .refused(reason: "unexpected message type \(header.type); this queue takes \(Payload.messageType)")
            }
            return decode(type, from: body)
        }
    }

    /// Decodes the payload of an envelope whose header was already accepted.
    public static func decode<Payload: EnvelopePayload>(_ type: Payload.Type, from body: [UInt8]) -> Outcome<Envelope<Payload>> {
        do {
            return .accepted(try AltoJSON.decoder().decode(Envelope<Payload>.self, from: Data(body)))
        } catch {
            return .refused(reason: "\(Payload.messageType) payload does not decode: \(AltoJSON.describe(error))")
        }
    }
}

extension EnvelopeReader.Outcome: Equatable where Message: Equatable {}
