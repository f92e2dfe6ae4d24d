import AltoAMQP
import AltoModels
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import ServiceLifecycle

/// `GET /api/v1/notifications` (WebSocket): the tenant's notifications as they happen, one JSON envelope per text
/// frame. Each API replica follows the `notifications` fan-out with a queue of its own and passes on only what
/// belongs to the connection's tenant; the access middleware decided who the connection is before the upgrade,
/// and every `recheck` the connection's token is asked again, so a sign-out, a disabled user, a changed role or a
/// revoked token closes it (1008) within that time, whichever replica the change was made on.
struct NotificationController: Sendable {
    let hub: NotificationHub
    let authenticator: Authenticator
    let recheck: Duration

    func add(to router: Router<AltoRequestContext>) {
        router.ws("/api/v1/notifications", shouldUpgrade: { request, _ in
            request.webSocketBearerToken == nil ? .upgrade([:]) : .upgrade([.secWebSocketProtocol: Request.webSocketBearerProtocol])
        }) { inbound, outbound, context in
            guard let tenant = context.requestContext.customerID, let principal = context.requestContext.principal,
                  let token = context.request.bearerToken else { return }
            let (id, notifications) = hub.subscribe(tenant: tenant)
            defer { hub.unsubscribe(tenant: tenant, id: id) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await text in notifications { try await outbound.write(.text(text)) }
                }
                group.addTask {
                    // Nothing is expected from the client; its close ends the connection.
                    for try await _ in inbound {}
                }
                group.addTask {
                    try await waitUntilChanged(principal, token: token, logger: context.requestContext.logger)
                    try await outbound.close(.policyViolation, reason: "the session ended or changed; connect again")
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    /// Returns once `token` no longer names `principal` as it was (signed out, disabled, role changed, revoked,
    /// expired). A check that cannot be made (the database away) keeps the connection: nothing can have changed
    /// without the database either.
    private func waitUntilChanged(_ principal: Principal, token: String, logger: Logger) async throws {
        while true {
            try await Task.sleep(for: recheck)
            do {
                if try await authenticator.principal(for: token) != principal { return }
            } catch {
                logger.warning("cannot check a notification connection's session", metadata: ["error": "\(String(reflecting: error))"])
            }
        }
    }

    /// Follows the notifications exchange for this replica and hands each envelope to the hub by its tenant.
    static func follower(settings: AMQPConfiguration, publisher: AMQPPublisher, hub: NotificationHub, logger: Logger) -> AMQPQueueWorker {
        let queue = "notifications.api.\(UUID().uuidString.prefix(8).lowercased())"
        let consumer = AMQPConsumer(configuration: settings, queue: queue, prefetch: 64,
                                    declarations: [.exchange(AMQPTopology.notificationsExchange, type: "fanout"),
                                                   .followerQueue(queue, exchange: AMQPTopology.notificationsExchange, expiresAfter: .seconds(60))],
                                    logger: logger)
        return AMQPQueueWorker(consumer: consumer, publisher: publisher, logger: logger) { delivery in
            guard let envelope = try? AltoJSON.decoder().decode(Envelope<AltoNotification>.self, from: Data(delivery.message.body)) else {
                return .ack
            }
            hub.publish(tenant: envelope.customerID, String(decoding: delivery.message.body, as: UTF8.self))
            return .ack
        }
    }
}
