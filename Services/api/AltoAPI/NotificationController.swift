import AltoAMQP
import AltoModels
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import ServiceLifecycle

/// `GET /api/v1/notifications` (WebSocket): the tenant's notifications as they happen, one JSON envelope per text
/// frame. Each API replica follows the `notifications` fan-out with a queue of its own and passes on only what
/// belongs to the connection's tenant; the access middleware decided who the connection is before the upgrade.
struct NotificationController: Sendable {
    let hub: NotificationHub

    func add(to router: Router<AltoRequestContext>) {
        router.ws("/api/v1/notifications") { inbound, outbound, context in
            guard let tenant = context.requestContext.customerID else { return }
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
                try await group.next()
                group.cancelAll()
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
