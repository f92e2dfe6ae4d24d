import AltoModels
import Foundation
import HTTPTypes
import Hummingbird

extension Request {
    /// A header that must hold a UUID: missing or malformed is a 400 naming it.
    func uuidHeader(_ name: String) throws -> UUID {
        guard let id = try optionalUUIDHeader(name) else {
            throw APIError.badRequest("missing_header", "\(name) is required")
        }
        return id
    }

    /// A header that may hold a UUID: absent is nil, malformed is a 400 naming it.
    func optionalUUIDHeader(_ name: String) throws -> UUID? {
        guard let value = headers[HTTPField.Name(name)!] else { return nil }
        guard let id = UUID(uuidString: value) else {
            throw APIError.badRequest("invalid_header", "\(name) must be a UUID")
        }
        return id
    }

    /// The bearer token of the `Authorization` header, if any.
    var bearerToken: String? {
        guard let value = headers[.authorization], value.lowercased().hasPrefix("bearer ") else { return nil }
        return String(value.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    }

    /// Decodes a JSON body with Alto's coders; a body that does not decode is a 400 naming the field.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int = 1 << 20) async throws -> T {
        let buffer = try await body.collect(upTo: limit)
        do {
            return try AltoJSON.decoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError.badRequest("invalid_body", AltoJSON.describe(error))
        }
    }
}

extension Parameters {
    /// A UUID path parameter; anything else is a 400.
    func uuid(_ name: String) throws -> UUID {
        guard let text = get(name), let id = UUID(uuidString: text) else {
            throw APIError.badRequest("invalid_id", "\(name) must be a UUID")
        }
        return id
    }
}
