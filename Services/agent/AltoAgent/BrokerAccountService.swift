import AltoAMQP
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ServiceLifecycle

/// Keeps the agent's broker account: asks the API for it (`POST /api/v1/agent/broker-account`, with the agent's
/// token) at start, and again whenever the broker refused it, which is what a rotated or revoked token does to the
/// account. The agent's consumer and publisher connect with whatever account is current; until the first one comes,
/// they wait as for a broker that is away, and recalls, which need no broker, go on.
struct BrokerAccountService: Service {
    let settings: AgentSettings
    let account: AMQPAccount
    let logger: Logger

    struct Issued: Decodable {
        var url: String
        var username: String
        var password: String
    }

    func run() async throws {
        var pause = Duration.seconds(1)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if account.current == nil || account.refusals > 0 {
                if await renew() {
                    pause = .seconds(1)
                } else {
                    pause = min(pause * 2, .seconds(60))
                }
            }
            let wait = pause
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
        }
    }

    /// Asks the API for a new account once; false when none came.
    func renew() async -> Bool {
        do {
            var request = HTTPClientRequest(url: settings.apiURL + "/api/v1/agent/broker-account")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(settings.token)")
            request.headers.add(name: "X-Alto-Customer-Id", value: settings.customerID.uuidString.lowercased())
            request.headers.add(name: "X-Alto-Host-Id", value: settings.hostID.uuidString.lowercased())
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 64 << 10)
            guard response.status == .created else {
                logger.warning("the API did not issue a broker account", metadata: [
                    "status": "\(response.status.code)", "body": "\(String(buffer: body))",
                ])
                return false
            }
            let issued = try JSONDecoder().decode(Issued.self, from: Data(body.readableBytesView))
            var configuration = try AMQPConfiguration(url: issued.url)
            configuration.user = issued.username
            configuration.password = issued.password
            account.replace(configuration)
            logger.info("broker account issued", metadata: ["broker": "\(configuration)"])
            return true
        } catch {
            logger.warning("cannot get a broker account from the API", metadata: ["error": "\(error)"])
            return false
        }
    }
}
