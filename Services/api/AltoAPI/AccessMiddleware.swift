import AltoModels
import AltoStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO

/// The one place every request's access is decided, from `AccessPolicy`: the route's requirement, the caller
/// behind the bearer token (401 without one), the caller's role (403 without the permission), and the tenant the
/// request acts for. Another tenant's objects answer 404, never 403, so a caller cannot learn that they exist.
/// Refused or failed changes are written to the audit trail here; successful ones by the handler, with the change.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = AltoRequestContext

    static let tenantHeader = HTTPField.Name("X-Alto-Customer-Id")!

    let authenticator: Authenticator
    let auditTrail: AuditTrail
    var postgres: PostgresClient { authenticator.postgres }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = context.endpointPath ?? request.uri.path
        guard let requirement = AccessPolicy.requirement(method: request.method.rawValue, path: path) else {
            throw APIError(.notFound, "not_found", "no route \(request.method.rawValue) \(request.uri.path)")
        }
        guard case .permission(let permission) = requirement else { return try await next(request, context) }
        guard let token = request.bearerToken, let principal = try await authenticator.principal(for: token) else {
            throw APIError.unauthorized
        }
        var context = context
        context.principal = principal
        context.logger[metadataKey: "actor"] = "\(principal.auditName)"
        do {
            guard AccessPolicy.allows(principal.role, permission) else {
                throw APIError(.forbidden, "forbidden", "the role \(principal.role.rawValue) does not have \(permission.rawValue)")
            }
            context.customerID = try await tenant(of: request, context: context, principal: principal)
            if let customerID = context.customerID { context.logger[metadataKey: "tenant"] = "\(customerID)" }
            let response = try await next(request, context)
            if response.status.code >= 400 { await recordRefusal(request, path: path, principal: principal, context: context, status: response.status) }
            return response
        } catch let error as any HTTPResponseError {
            await recordRefusal(request, path: path, principal: principal, context: context, status: error.status)
            throw error
        }
    }

    /// The tenant a request acts for: a tenant's caller acts for its own, and naming another (header or path) is
    /// a 404; a super admin acts for the one it names, which must exist.
    private func tenant(of request: Request, context: Context, principal: Principal) async throws -> UUID? {
        var named: UUID?
        if let text = context.parameters.get("customerID") {
            guard let id = UUID(uuidString: text) else { throw APIError.badRequest("invalid_id", "customerID must be a UUID") }
            named = id
        }
        if let text = request.headers[Self.tenantHeader] {
            guard let id = UUID(uuidString: text) else {
                throw APIError(.badRequest, "invalid_tenant", "X-Alto-Customer-Id must be a UUID", field: "X-Alto-Customer-Id")
            }
            if let named, named != id { throw Self.unknownCustomer(id) }
            named = id
        }
        if let own = principal.customerID {
            if let named, named != own { throw Self.unknownCustomer(named) }
            return own
        }
        guard let named else { return nil }
        let exists = try await postgres.acrossTenants(logger: context.logger) { connection in
            for try await _ in try await connection.query("SELECT 1 FROM customers WHERE id = \(named)", logger: context.logger) {
                return true
            }
            return false
        }
        guard exists else { throw Self.unknownCustomer(named) }
        return named
    }

    static func unknownCustomer(_ id: UUID) -> APIError {
        APIError(.notFound, "not_found", "customer \(id) does not exist")
    }

    /// A change that was refused or failed is recorded; reads are not, nor a what-if (`dry_run=true`) that failed
    /// its checks, which changes nothing and is asked again as an admin types: a role refused one still is.
    private func recordRefusal(_ request: Request, path: String, principal: Principal, context: Context, status: HTTPResponse.Status) async {
        guard request.method != .get, request.method != .head else { return }
        guard status == .forbidden || request.uri.queryParameters.get("dry_run") != "true" else { return }
        let record = AuditRecord(actor: principal.auditName, action: "\(request.method.rawValue) \(path)", target: request.uri.path,
                                 result: status.code == 403 ? "denied" : "failed", details: ["status": String(status.code)])
        do {
            try await auditTrail.record([record], customerID: context.customerID ?? principal.customerID, client: postgres,
                                        logger: context.logger)
        } catch {
            context.logger.error("a refused request could not be audited", metadata: ["error": "\(String(reflecting: error))"])
        }
    }
}
