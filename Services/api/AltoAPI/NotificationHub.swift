import Foundation
import NIOConcurrencyHelpers

/// Hands each notification to the WebSocket clients of its tenant, and to nobody else's.
final class NotificationHub: Sendable {
    private let subscribers = NIOLockedValueBox<[UUID: [UUID: AsyncStream<String>.Continuation]]>([:])

    /// A stream of the tenant's notifications until `unsubscribe`; a slow client loses the oldest beyond 256.
    func subscribe(tenant: UUID) -> (id: UUID, notifications: AsyncStream<String>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(256))
        subscribers.withLockedValue { $0[tenant, default: [:]][id] = continuation }
        return (id, stream)
    }

    func unsubscribe(tenant: UUID, id: UUID) {
        let continuation = subscribers.withLockedValue { subscribers -> AsyncStream<String>.Continuation? in
            let removed = subscribers[tenant]?.removeValue(forKey: id)
            if subscribers[tenant]?.isEmpty == true { subscribers[tenant] = nil }
            return removed
        }
        continuation?.finish()
    }

    func publish(tenant: UUID, _ text: String) {
        for continuation in subscribers.withLockedValue({ Array(($0[tenant] ?? [:]).values) }) {
            continuation.yield(text)
        }
    }
}
