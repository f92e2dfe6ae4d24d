import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// Checks that a request comes from the agent of a host: the bearer token must be the one issued to that host,
/// and the host must belong to the customer the request names. A wrong token is 401, another customer's host 403.
struct AgentAuthenticator: Sendable {
    let postgres: PostgresClient

    /// - Returns: the customer the host belongs to.
    @discardableResult
    func authenticate(_ request: Request, hostID: UUID, customerID: UUID?, logger: Logger) async throws -> UUID {
        guard let token = request.bearerToken else { throw APIError.unauthorized }
        let stored = try await postgres.query(
            "SELECT customer_id, agent_token_hash FROM hosts WHERE id = \(hostID)", logger: logger)
        var host: (UUID, ByteBuffer?)?
        for try await row in stored.decode((UUID, ByteBuffer?).self) { host = row }
        guard let (owner, digest) = host else {
            throw APIError.badRequest("unknown_host", "host \(hostID) is not enrolled")
        }
        guard let digest, AgentToken.matches(token, digest: Array(buffer: digest)) else { throw APIError.unauthorized }
        if let customerID, owner != customerID {
            throw APIError(.forbidden, "forbidden", "host \(hostID) does not belong to customer \(customerID)")
        }
        return owner
    }
}
