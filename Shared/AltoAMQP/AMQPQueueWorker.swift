import Logging
import ServiceLifecycle

/// Runs a handler over one queue as a lifecycle service: settles every delivery with the handler's decision,
/// moves poison messages to `<queue>.dlq` with their reason, and on graceful shutdown finishes the messages in hand.
/// A message whose handling failed goes back to the end of its queue with its failures counted in a header (classic
/// queues count no deliveries), and after `maxFailures` it is dead-lettered with the last reason.
/// With a concurrency above one it handles that many deliveries at once (the consumer's prefetch should allow
/// them), for work such as ingest where one message keeps a database busy on one core.
public struct AMQPQueueWorker: Service {
    public typealias Handler = @Sendable (AMQPDelivery) async -> AMQPSettlement

    private let consumer: AMQPConsumer
    private let publisher: AMQPPublisher
    private let retryDelay: Duration
    private let logger: Logger
    private let handler: Handler
    private let concurrency: Int
    private let maxFailures: Int
    private let deadLetters: DeadLetters

    /// How a message is dead-lettered.
    public enum DeadLetters: Sendable {
        /// Published to the dead-letter exchange with its reason in a header (and failures counted by republishing):
        /// for the central services, whose broker account may.
        case withReason
        /// Rejected, for the queue's own dead-letter exchange to route, the reason only in the log: for an agent,
        /// whose broker account may write to nothing but the results exchange. A failed message is retried.
        case byBroker
    }

    /// The header that counts how often handling a message failed.
    public static let failuresHeader = "x-alto-failures"
    /// Who first published a message that a central service put back or dead-lettered.
    public static let publishedByHeader = "x-alto-published-by"

    /// - Parameter retryDelay: the pause before a message that asked for a retry goes back to the queue, so a
    ///   failing dependency is not hammered in a tight loop; a failed message waits that long times its failures.
    /// - Parameter maxFailures: how many failed attempts a message gets before it is dead-lettered.
    public init(consumer: AMQPConsumer, publisher: AMQPPublisher, retryDelay: Duration = .seconds(1), concurrency: Int = 1,
                maxFailures: Int = 5, deadLetters: DeadLetters = .withReason, logger: Logger, handler: @escaping Handler) {
        self.concurrency = max(1, concurrency)
        self.deadLetters = deadLetters
        self.maxFailures = max(1, maxFailures)
        self.consumer = consumer
        self.publisher = publisher
        self.retryDelay = retryDelay
        self.logger = logger
        self.handler = handler
    }

    public func run() async throws {
        let deliveries = consumer.deliveries()
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                var inHand = 0
                for await delivery in deliveries {
                    if consumer.isStopping { break }
                    if inHand == concurrency {
                        await group.next()
                        inHand -= 1
                    }
                    group.addTask { await process(delivery) }
                    inHand += 1
                }
                await group.waitForAll()
            }
        } onGracefulShutdown: {
            consumer.stop()
        }
        await consumer.close()
    }

    private func process(_ delivery: AMQPDelivery) async {
        let settlement = await handler(delivery)
        switch settlement {
        case .ack:
            consumer.settle(delivery, .ack)
        case .retry:
            try? await Task.sleep(for: retryDelay)
            consumer.settle(delivery, .retry)
        case .failed(let reason):
            await failed(delivery, reason: reason)
        case .deadLetter(let reason):
            await deadLetter(delivery, reason: reason)
        }
    }

    private func failed(_ delivery: AMQPDelivery, reason: String) async {
        let failures = (Int(delivery.message.headers[Self.failuresHeader] ?? "") ?? 0) + 1
        if deadLetters == .withReason, failures >= maxFailures {
            await deadLetter(delivery, reason: "failed \(failures) times; the last time: \(reason)")
            return
        }
        logger.warning("handling a message failed; it goes back to its queue", metadata: [
            "amqp.queue": "\(delivery.queue)", "reason": "\(reason)", "failures": "\(failures)",
            "message.id": "\(delivery.message.messageID ?? "")",
        ])
        guard deadLetters == .withReason else {
            try? await Task.sleep(for: retryDelay)
            consumer.settle(delivery, .retry)
            return
        }
        try? await Task.sleep(for: retryDelay * failures)
        var message = republishable(delivery.message)
        message.headers[Self.failuresHeader] = String(failures)
        do {
            try await publisher.publish(message, routingKey: delivery.queue)
            consumer.settle(delivery, .ack)
        } catch {
            logger.warning("cannot put a failed message back with its count; requeueing it", metadata: ["error": "\(error)"])
            consumer.settle(delivery, .retry)
        }
    }

    private func deadLetter(_ delivery: AMQPDelivery, reason: String) async {
        logger.error("dead-lettering a message", metadata: [
            "amqp.queue": "\(delivery.queue)", "reason": "\(reason)",
            "message.id": "\(delivery.message.messageID ?? "")",
        ])
        guard deadLetters == .withReason else {
            consumer.settle(delivery, .deadLetter(reason: reason))
            return
        }
        var message = republishable(delivery.message)
        message.headers[AMQPTopology.deadLetterReasonHeader] = reason
        message.headers["x-alto-original-queue"] = delivery.queue
        do {
            try await publisher.publish(message, exchange: AMQPTopology.deadLetterExchange,
                                        routingKey: AMQPTopology.deadLetterQueue(for: delivery.queue))
            consumer.settle(delivery, .ack)
        } catch {
            logger.warning("cannot dead-letter with a reason; rejecting instead", metadata: ["error": "\(error)"])
            consumer.settle(delivery, .deadLetter(reason: reason))
        }
    }

    /// The message as this process may publish it again: the broker refuses a `user-id` other than the publisher's
    /// own login, so the original sender moves to the `publishedByHeader` and the message is signed by this
    /// process, which a consumer trusts the header of (nobody else can sign as it).
    private func republishable(_ message: AMQPMessage) -> AMQPMessage {
        var message = message
        if let sender = message.userID, sender != publisher.login {
            message.headers[Self.publishedByHeader] = sender
            message.userID = publisher.login
        }
        return message
    }

}
