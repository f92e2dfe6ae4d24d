import AltoModels
import Foundation
import Hummingbird

extension Request {
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
