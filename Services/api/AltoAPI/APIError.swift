import AltoRuntime
import Hummingbird

/// An error the API answers with `{"error": {"code": ..., "message": ...}}` and the given status.
struct APIError: Error, HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    /// The request field at fault, when one is.
    var field: String?
    /// Seconds after which the same request may succeed, sent as `Retry-After`.
    var retryAfter: Int?

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, field: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retryAfter = retryAfter
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.error(status: status, code: code, message: message, field: field)
        if status == .unauthorized {
            response.headers[.wwwAuthenticate] = "Bearer"
        }
        if let retryAfter {
            response.headers[.retryAfter] = String(retryAfter)
        }
        return response
    }

    static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }
    static func invalid(_ field: String, _ message: String) -> APIError {
        APIError(.badRequest, "invalid_field", "\(field): \(message)", field: field)
    }
    static let unauthorized = APIError(.unauthorized, "unauthorized", "missing or invalid bearer token")

    /// Runs a call to the tenant's key provider; a provider that fails is a 503 naming what could not be done, and
    /// nothing of its own error (which may name the provider's address) reaches the client.
    static func keyProvider<Result>(_ doing: String, advice: String? = nil, _ call: () async throws -> Result) async throws -> Result {
        do {
            return try await call()
        } catch {
            throw APIError(.serviceUnavailable, "key_provider_unavailable",
                           "the tenant's key provider cannot \(doing) now" + (advice.map { "; \($0)" } ?? ""))
        }
    }
}
