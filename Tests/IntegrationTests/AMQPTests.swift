import AltoAMQP
import AltoModels
import AltoTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// Against the real RabbitMQ. Each test uses its own queue; the broker's restart is `AMQPBrokerRestartTests`, which
/// `scripts/test.sh` runs alone because it stops the broker for everyone.
@Suite(.serialized, .timeLimit(.minutes(3))) struct AMQPTests {
    let configuration: AMQPConfiguration
    let queue = "test.\(UUID().uuidString.lowercased())"
    let logger = TestServers.logger

    init() throws {
        configuration = try AMQPConfiguration(url: TestServers.amqpURL)
    }

    func message(_ index: Int) -> AMQPMessage {
        AMQPMessage(body: Array("message \(index)".utf8), headers: ["x-test": "\(index)"], messageID: "id-\(index)")
    }

    /// Receives `count` deliveries, settling each with `settle`.
    func receive(_ count: Int, from consumer: AMQPConsumer, timeout: Duration = .seconds(20),
                 settle: (AMQPDelivery) -> AMQPSettlement = { _ in .ack }) async throws -> [AMQPDelivery] {
        var received: [AMQPDelivery] = []
        let deadline = ContinuousClock.now + timeout
        for await delivery in consumer.deliveries() {
            received.append(delivery)
            consumer.settle(delivery, settle(delivery))
            if received.count == count || ContinuousClock.now > deadline { break }
        }
        return received
    }

    @Test func publishesWithConfirmsAndConsumesWithAcks() async throws {
        let publisher = AMQPPublisher(configuration: configuration, logger: logger)
        try await publisher.declare([.workQueue(queue)])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask { try await publisher.publish(message(index), routingKey: queue) }
            }
            try await group.waitForAll()
        }
        let consumer = AMQPConsumer(configuration: configuration, queue: queue, prefetch: 20,
                                    declarations: [.workQueue(queue)], logger: logger)
        let received = try await receive(200, from: consumer)
        await consumer.close()
        #expect(Set(received.map { String(decoding: $0.message.body, as: UTF8.self) }) == Set((0..<200).map { "message \($0)" }))
        #expect(received.first?.message.headers["x-test"] != nil)
        #expect(received.first?.message.messageID?.hasPrefix("id-") == true)
        try await publisher.declare([.deleteQueue(queue), .deleteQueue(AMQPTopology.deadLetterQueue(for: queue))])
        await publisher.shutdown()
    }

    @Test func aPublishToAQueueThatDoesNotExistFails() async throws {
        let publisher = AMQPPublisher(configuration: configuration, logger: logger)
        await #expect(throws: AMQPError.self) {
            try await publisher.publish(message(1), routingKey: "no.such.queue.\(UUID())")
        }
        await publisher.shutdown()
    }

    @Test func aNackedMessageIsRedelivered() async throws {
        let publisher = AMQPPublisher(configuration: configuration, logger: logger)
        try await publisher.declare([.workQueue(queue)])
        try await publisher.publish(message(1), routingKey: queue)
        let consumer = AMQPConsumer(configuration: configuration, queue: queue, prefetch: 1,
                                    declarations: [.workQueue(queue)], logger: logger)
        var first = true
        let received = try await receive(2, from: consumer) { _ in
            defer { first = false }
            return first ? .retry : .ack
        }
        await consumer.close()
        #expect(received.count == 2)
        #expect(received.map(\.message.body) == [message(1).body, message(1).body])
        #expect(received.last?.redelivered == true)
        try await publisher.declare([.deleteQueue(queue), .deleteQueue(AMQPTopology.deadLetterQueue(for: queue))])
        await publisher.shutdown()
    }

    @Test func poisonMessagesLandInTheDeadLetterQueueWithAReason() async throws {
        let publisher = AMQPPublisher(configuration: configuration, logger: logger)
        try await publisher.declare([.workQueue(queue)])
        let valid = Envelope(customerID: UUID(), hostID: UUID(), payload: PlannerTrigger(reason: .admin))
        var futureVersion = try #require(try JSONSerialization.jsonObject(with: Data(try valid.encoded())) as? [String: Any])
        futureVersion["version"] = 2
        try await publisher.publish(AMQPMessage(body: Array("{this is not json".utf8)), routingKey: queue)
        try await publisher.publish(AMQPMessage(body: Array(try JSONSerialization.data(withJSONObject: futureVersion))), routingKey: queue)
        try await publisher.publish(AMQPMessage(body: try valid.encoded()), routingKey: queue)

        let handled = Counter()
        let worker = AMQPQueueWorker(
            consumer: AMQPConsumer(configuration: configuration, queue: queue, prefetch: 4, declarations: [.workQueue(queue)], logger: logger),
            publisher: publisher, logger: logger
        ) { delivery in
            switch EnvelopeReader.read(PlannerTrigger.self, from: delivery.message.body) {
            case .refused(let reason): return .deadLetter(reason: reason)
            case .accepted: handled.increment(); return .ack
            }
        }
        let deadLetters = AMQPConsumer(configuration: configuration, queue: AMQPTopology.deadLetterQueue(for: queue), prefetch: 4,
                                       declarations: [], logger: logger)
        let group = ServiceGroup(services: [worker], logger: logger)
        let received = try await withThrowingTaskGroup(of: [AMQPDelivery].self) { tasks in
            tasks.addTask { try await group.run(); return [] }
            let received = try await receive(2, from: deadLetters)
            while handled.value == 0 { try await Task.sleep(for: .milliseconds(20)) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return received
        }
        await deadLetters.close()
        let reasons = received.compactMap { $0.message.headers[AMQPTopology.deadLetterReasonHeader] }.sorted()
        #expect(reasons.count == 2)
        #expect(reasons.contains { $0.hasPrefix("not an Alto envelope") })
        #expect(reasons.contains { $0.contains("unsupported envelope version 2") })
        #expect(received.allSatisfy { $0.message.headers["x-alto-original-queue"] == queue })
        #expect(handled.value == 1)
        try await publisher.declare([.deleteQueue(queue), .deleteQueue(AMQPTopology.deadLetterQueue(for: queue))])
        await publisher.shutdown()
    }

    @Test func aMessageThatKeepsFailingEndsInTheDeadLetterQueueWhileTheOthersPass() async throws {
        let publisher = AMQPPublisher(configuration: configuration, logger: logger)
        try await publisher.declare([.workQueue(queue)])
        try await publisher.publish(AMQPMessage(body: Array("poison".utf8), messageID: "poison"), routingKey: queue)
        for index in 0..<3 { try await publisher.publish(message(index), routingKey: queue) }

        let attempts = Counter()
        let handled = Counter()
        let worker = AMQPQueueWorker(
            consumer: AMQPConsumer(configuration: configuration, queue: queue, prefetch: 1, declarations: [.workQueue(queue)], logger: logger),
            publisher: publisher, retryDelay: .milliseconds(50), maxFailures: 3, logger: logger
        ) { delivery in
            guard delivery.message.body == Array("poison".utf8) else { handled.increment(); return .ack }
            attempts.increment()
            return .failed(reason: "a foreign key to nothing")
        }
        let deadLetters = AMQPConsumer(configuration: configuration, queue: AMQPTopology.deadLetterQueue(for: queue), prefetch: 4,
                                       declarations: [], logger: logger)
        let group = ServiceGroup(services: [worker], logger: logger)
        let received = try await withThrowingTaskGroup(of: [AMQPDelivery].self) { tasks in
            tasks.addTask { try await group.run(); return [] }
            let received = try await receive(1, from: deadLetters)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return received
        }
        await deadLetters.close()
        #expect(received.count == 1)
        #expect(received.first?.message.messageID == "poison")
        #expect(received.first?.message.headers[AMQPTopology.deadLetterReasonHeader] == "failed 3 times; the last time: a foreign key to nothing")
        #expect(attempts.value == 3, "tried exactly as often as allowed")
        #expect(handled.value == 3, "the other messages were handled while the poison waited its turn")
        try await publisher.declare([.deleteQueue(queue), .deleteQueue(AMQPTopology.deadLetterQueue(for: queue))])
        await publisher.shutdown()
    }

    @Test func heartbeatsKeepAnIdleConnectionOpen() async throws {
        var configuration = self.configuration
        configuration.heartbeatSeconds = 1
        let logs = CapturedLogs()
        let publisher = AMQPPublisher(configuration: configuration, logger: logs.logger())
        try await publisher.declare([.workQueue(queue)])
        let consumer = AMQPConsumer(configuration: configuration, queue: queue, prefetch: 1,
                                    declarations: [.workQueue(queue)], logger: logs.logger())
        _ = consumer.deliveries()
        try await Task.sleep(for: .seconds(5))
        try await publisher.publish(message(1), routingKey: queue)
        let received = try await receive(1, from: consumer)
        await consumer.close()
        #expect(received.count == 1)
        #expect(logs.count(containing: "connection lost") == 0, "\(logs.all)")
        #expect(logs.count(containing: "connected") == 2)
        try await publisher.declare([.deleteQueue(queue), .deleteQueue(AMQPTopology.deadLetterQueue(for: queue))])
        await publisher.shutdown()
    }
}

/// A count shared with a handler that runs on another task.
final class Counter: Sendable {
    private let storage = Mutex(0)
    func increment() { storage.withLock { $0 += 1 } }
    var value: Int { storage.withLock { $0 } }
}

import Synchronization
