import AltoAMQP
import AltoTestSupport
import Testing

/// RabbitMQ stopped and started again under a publisher and a consumer. `scripts/test.sh` runs it alone, last,
/// since every other test shares the broker: one making its vhost while the broker is stopped would fail.
@Suite(.serialized, .timeLimit(.minutes(3))) struct AMQPBrokerRestartTests {
    let amqp: AMQPTests

    init() throws {
        amqp = try AMQPTests()
    }

    @Test func survivesABrokerRestartWithoutLosingConfirmedMessages() async throws {
        let (configuration, queue, logger) = (amqp.configuration, amqp.queue, amqp.logger)
        let publisher = AMQPPublisher(configuration: configuration, logger: logger)
        try await publisher.declare([.workQueue(queue)])
        let consumer = AMQPConsumer(configuration: configuration, queue: queue, prefetch: 10,
                                    declarations: [.workQueue(queue)], logger: logger)
        for index in 0..<50 { try await publisher.publish(amqp.message(index), routingKey: queue) }
        let firstHalf = try await amqp.receive(25, from: consumer)
        try await TestServers.rabbitmqctl("stop_app")
        let publishing = Task { [amqp] in
            for index in 50..<100 { try await publisher.publish(amqp.message(index), routingKey: queue) }
        }
        try await Task.sleep(for: .seconds(2))
        try await TestServers.rabbitmqctl("start_app")
        try await publishing.value
        var bodies = Set(firstHalf.map(\.message.body))
        let deadline = ContinuousClock.now + .seconds(60)
        for await delivery in consumer.deliveries() {
            bodies.insert(delivery.message.body)
            consumer.settle(delivery, .ack)
            if bodies.count == 100 || ContinuousClock.now > deadline { break }
        }
        await consumer.close()
        #expect(bodies == Set((0..<100).map { amqp.message($0).body }))
        try await publisher.declare([.deleteQueue(queue), .deleteQueue(AMQPTopology.deadLetterQueue(for: queue))])
        await publisher.shutdown()
    }
}
