/// One piece of broker topology, declared idempotently by whoever needs it before use.
public enum AMQPDeclaration: Sendable, Equatable {
    /// A durable queue whose rejected messages go to `<name>.dlq` through the dead-letter exchange.
    case workQueue(String)
    /// A durable exchange of the given type (`direct`, `fanout`, `topic`).
    case exchange(String, type: String)
    /// A durable queue bound to an exchange, for example a notifications follower.
    case boundQueue(String, exchange: String, routingKey: String)
    /// A queue of one process's own, bound to an exchange, that the broker deletes once nobody has consumed it
    /// for `expiresAfter`: an API replica following the notifications, gone soon after the replica is.
    case followerQueue(String, exchange: String, expiresAfter: Duration)
    /// Binds an existing queue to an exchange.
    case binding(queue: String, exchange: String, routingKey: String)
    /// Removes a queue and its messages (tests and host decommissioning).
    case deleteQueue(String)

    /// The design contract's central topology.
    public static var standard: [AMQPDeclaration] {
        AMQPTopology.workQueues.map(AMQPDeclaration.workQueue)
            + [.exchange(AMQPTopology.notificationsExchange, type: "fanout"),
               .exchange(AMQPTopology.agentResultsExchange, type: "direct"),
               .binding(queue: AMQPTopology.agentResults, exchange: AMQPTopology.agentResultsExchange,
                        routingKey: AMQPTopology.agentResults)]
    }
}

extension AMQPSession {
    /// - Returns: what the work queues declared hold, each after its dead-letter queue.
    @discardableResult
    func apply(_ declaration: AMQPDeclaration) throws -> [AMQPQueueDepth] {
        switch declaration {
        case .workQueue(let name):
            let deadLetterQueue = AMQPTopology.deadLetterQueue(for: name)
            try declareExchange(AMQPTopology.deadLetterExchange, type: "direct")
            let deadLetters = try declareQueue(deadLetterQueue)
            try bindQueue(deadLetterQueue, exchange: AMQPTopology.deadLetterExchange, routingKey: deadLetterQueue)
            return [deadLetters, try declareQueue(name, arguments: [
                "x-dead-letter-exchange": .string(AMQPTopology.deadLetterExchange),
                "x-dead-letter-routing-key": .string(deadLetterQueue),
            ])]
        case .exchange(let name, let type):
            try declareExchange(name, type: type)
        case .boundQueue(let name, let exchange, let routingKey):
            try declareQueue(name)
            try bindQueue(name, exchange: exchange, routingKey: routingKey)
        case .followerQueue(let name, let exchange, let expiresAfter):
            let milliseconds = expiresAfter.components.seconds * 1000 + expiresAfter.components.attoseconds / 1_000_000_000_000_000
            try declareQueue(name, arguments: ["x-expires": .int(max(1000, milliseconds))])
            try bindQueue(name, exchange: exchange, routingKey: "")
        case .binding(let queue, let exchange, let routingKey):
            try bindQueue(queue, exchange: exchange, routingKey: routingKey)
        case .deleteQueue(let name):
            try deleteQueue(name)
        }
        return []
    }
}
