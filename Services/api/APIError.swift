import AltoService
import Hummingbird

/// An error the API answers with `{"error": {"code": ..., "message": ...}}` and the given status.
struct APIError: Error, HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.error(status: status, code: code, message: message)
        if status == .unauthorized {
            response.headers[.wwwAuthenticate] = "Bearer"
        }
        return response
    }

    static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }
    static let unauthorized = APIError(.unauthorized, "unauthorized", "missing or invalid bearer token")
}
