import AltoModels
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension Request {
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
        if let value = headers[.authorization] {
            guard value.lowercased().hasPrefix("bearer ") else { return nil }
            return String(value.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        return webSocketBearerToken
    }

    /// A browser cannot set `Authorization` on a WebSocket, so the web UI offers its token as the second of the
    /// subprotocols `alto.bearer, <token>`; the upgrade answers with `alto.bearer` alone.
    /// Only an upgrade to a WebSocket reads it there: a plain request's token goes in `Authorization`.
    var webSocketBearerToken: String? {
        guard headers[.upgrade]?.lowercased() == "websocket", let value = headers[.secWebSocketProtocol] else { return nil }
        let offered = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard offered.count == 2, offered[0] == Self.webSocketBearerProtocol, !offered[1].isEmpty else { return nil }
        return offered[1]
    }

    static let webSocketBearerProtocol = "alto.bearer"

    /// `dry_run`: absent or `false` makes the change, `true` only shows what it would do; anything else is a 400,
    /// so a misspelt what-if never saves.
    func isDryRun() throws -> Bool {
        switch uri.queryParameters.get("dry_run") {
        case nil, "false": false
        case "true": true
        default: throw APIError.invalid("dry_run", "must be true or false")
        }
    }

    /// Decodes a JSON body with Alto's coders; a body that does not decode is a 400 naming the field, one over
    /// `limit` bytes a 413.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int = 1 << 20) async throws -> T {
        guard let value = try await decodeJSON(type, allowEmpty: false, limit: limit) else {
            throw APIError.badRequest("invalid_body", "the request needs a JSON body")
        }
        return value
    }

    /// Like `decodeJSON`, except that an empty body is nil: for requests whose every field has a default.
    func decodeJSON<T: Decodable>(_ type: T.Type, allowEmpty: Bool, limit: Int = 1 << 20) async throws -> T? {
        let buffer = try await collectBody(limit: limit)
        if Self.containsNUL(buffer.readableBytesView) {
            throw APIError.badRequest("invalid_body", "text in the body must not contain NUL characters")
        }
        if allowEmpty, buffer.readableBytesView.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return nil }
        do {
            return try AltoJSON.decoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError.badRequest("invalid_body", AltoJSON.describe(error))
        }
    }

    /// A raw NUL byte, or the escape `\u0000` (not itself escaped): PostgreSQL's text has no place for either.
    static func containsNUL(_ bytes: ByteBufferView) -> Bool {
        var backslashes = 0
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == 0 { return true }
            if byte == UInt8(ascii: "\\") {
                backslashes += 1
            } else {
                if byte == UInt8(ascii: "u"), backslashes % 2 == 1, bytes.distance(from: index, to: bytes.endIndex) >= 5,
                   bytes[bytes.index(index, offsetBy: 1)..<bytes.index(index, offsetBy: 5)].elementsEqual("0000".utf8) {
                    return true
                }
                backslashes = 0
            }
            index = bytes.index(after: index)
        }
        return false
    }

    private func collectBody(limit: Int) async throws -> ByteBuffer {
        do {
            return try await body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "body_too_large", "the request body is over \(limit) bytes")
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
