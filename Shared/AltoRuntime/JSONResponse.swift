import AltoModels
import Foundation
import Hummingbird

/// JSON bodies with Alto's coders, and errors as `{"error": {"code": ..., "message": ...}}`.
public enum JSONResponse {
    public static func make<Body: Encodable>(status: HTTPResponse.Status, _ body: Body) throws -> Response {
        let data = try AltoJSON.encoder().encode(body)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `field` names the request field at fault, when one is, so a client can point at it.
    public static func error(status: HTTPResponse.Status, code: String, message: String, field: String? = nil) -> Response {
        var detail = ["code": code, "message": message]
        if let field { detail["field"] = field }
        let body = ["error": detail]
        return (try? make(status: status, body)) ?? Response(status: status)
    }
}
