import AltoService
import Hummingbird

/// An error the API answers with `{"error": {"code": ..., "message": ...}}` and the given status.
struct APIError: Error, HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    /// The request field at fault, when one is.
    var field: String?

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.error(status: status, code: code, message: message, field: field)
        if status == .unauthorized {
            response.headers[.wwwAuthenticate] = "Bearer"
        }
        return response
    }

    static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }
    static func invalid(_ field: String, _ message: String) -> APIError {
        APIError(.badRequest, "invalid_field", "\(field): \(message)", field: field)
    }
    static let unauthorized = APIError(.unauthorized, "unauthorized", "missing or invalid bearer token")
}
