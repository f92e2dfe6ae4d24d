import AltoAMQP
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// The agents' RabbitMQ accounts, one per host, kept through the broker's management API. An account may read its
/// own `agent.<tenant>.<host>` queue and write to the `agent.results` exchange, and nothing else: no configure
/// right, so it declares, binds and deletes nothing; no write to the default exchange, which reaches every queue;
/// no read of another queue or of the notifications. Results it publishes carry its name as `user-id`, which the
/// broker checks, so the actor knows which host sent them. Issuing sets a new password; removing the account (a
/// revoked or rotated token) makes the broker close its connections.
struct BrokerAccounts: Sendable {
    /// Where the management API answers, without credentials, and the administrator's `Authorization`.
    let managementURL: String
    let authorization: String
    let virtualHost: String
    /// The broker as the agents reach it, without credentials.
    let agentURL: String
    let publisher: AMQPPublisher
    let client: HTTPClient

    /// - Parameter managementURL: `http(s)://user:password@host:port`, an administrator of the broker.
    /// - Parameter agentURL: the `amqp(s)://host:port/vhost` agents connect to.
    init(managementURL: String, agentURL: String, virtualHost: String, publisher: AMQPPublisher, client: HTTPClient = .shared) throws {
        guard var components = URLComponents(string: managementURL), ["http", "https"].contains(components.scheme ?? ""),
              let user = components.user, let password = components.password else {
            throw ValidationFailure("ALTO_BROKER_MANAGEMENT_URL must be http(s)://user:password@host:port, a broker administrator")
        }
        let credentials = "\(user.removingPercentEncoding ?? user):\(password.removingPercentEncoding ?? password)"
        authorization = "Basic " + Data(credentials.utf8).base64EncodedString()
        components.user = nil
        components.password = nil
        components.path = ""
        self.managementURL = components.string ?? managementURL
        self.agentURL = agentURL
        self.virtualHost = virtualHost
        self.publisher = publisher
        self.client = client
    }

    /// An agent's account as the API hands it out.
    struct Account: Encodable {
        var url: String
        var username: String
        var password: String
        var queue: String
        var exchange: String
        var routingKey: String
        enum CodingKeys: String, CodingKey {
            case url, username, password, queue, exchange
            case routingKey = "routing_key"
        }
    }

    /// Creates or renews the host's account with a new password, and its queue, which the account cannot declare,
    /// together with the results exchange it publishes into (the API may need them before any other service ran).
    func issue(customerID: UUID, hostID: UUID, logger: Logger) async throws -> Account {
        let user = AMQPTopology.agentUser(hostID: hostID.uuidString)
        let queue = AMQPTopology.agentQueue(customerID: customerID.uuidString, hostID: hostID.uuidString)
        let password = SecretToken.generate(prefix: "")
        try await publisher.declare(AMQPDeclaration.standard + [.workQueue(queue)])
        try await send(.PUT, "/api/users/\(escaped(user))", ["password": password, "tags": ""], logger: logger)
        try await send(.PUT, "/api/permissions/\(escaped(virtualHost))/\(escaped(user))", [
            "configure": "^$",
            "write": "^\(NSRegularExpression.escapedPattern(for: AMQPTopology.agentResultsExchange))$",
            "read": "^\(NSRegularExpression.escapedPattern(for: queue))$",
        ], logger: logger)
        return Account(url: agentURL, username: user, password: password, queue: queue,
                       exchange: AMQPTopology.agentResultsExchange, routingKey: AMQPTopology.agentResults)
    }

    /// Deletes the host's account; the broker closes its connections. An account that does not exist is fine.
    func remove(hostID: UUID, logger: Logger) async throws {
        try await send(.DELETE, "/api/users/\(escaped(AMQPTopology.agentUser(hostID: hostID.uuidString)))", nil,
                       logger: logger, missingIsFine: true)
    }

    private func send(_ method: HTTPMethod, _ path: String, _ body: [String: String]?, logger: Logger,
                      missingIsFine: Bool = false) async throws {
        var request = HTTPClientRequest(url: managementURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: authorization)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(10))
        } catch {
            logger.error("the broker's management API cannot be reached", metadata: ["error": "\(error)"])
            throw Self.unavailable
        }
        let answer = try await response.body.collect(upTo: 64 << 10)
        guard (200..<300).contains(response.status.code) || (missingIsFine && response.status == .notFound) else {
            logger.error("the broker's management API refused a change", metadata: [
                "status": "\(response.status.code)", "path": "\(path)", "answer": "\(String(buffer: answer))",
            ])
            throw Self.unavailable
        }
    }

    private func escaped(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? segment
    }

    static let unavailable = APIError(.serviceUnavailable, "broker_unavailable",
                                      "the broker's accounts cannot be changed now; try again shortly", retryAfter: 5)
}
