import Hummingbird
import Logging
import PostgresNIO

/// The outermost middleware: whatever goes wrong inside answers with Alto's JSON error body. A value the database
/// refuses (out of range, not valid text, against a check) is the client's mistake and a 400; a uniqueness or
/// reference clash a 409; anything else a 500 that says no more than that, while the log keeps the detail.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = AltoRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            throw error
        } catch let error as PSQLError {
            let state = error.serverInfo?[.sqlState] ?? ""
            if state.hasPrefix("22") || state == "23514" || state == "23502" {
                throw APIError(.badRequest, "invalid_value", "a value is out of range or not acceptable text")
            }
            if state == "23505" || state == "23503" {
                throw APIError(.conflict, "conflict", "the change clashes with what exists")
            }
            context.logger.error("request failed in the database", metadata: ["sqlstate": "\(state)", "error": "\(String(reflecting: error))"])
            throw APIError(.internalServerError, "internal", "an internal error occurred; the server log has the details")
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            throw APIError(.internalServerError, "internal", "an internal error occurred; the server log has the details")
        }
    }
}
