/// A message as it travels: body, headers and the id RabbitMQ keeps in its properties.
public struct AMQPMessage: Sendable, Equatable {
    public var body: [UInt8]
    public var headers: [String: String]
    public var messageID: String?
    /// The broker login that published the message. RabbitMQ refuses a publish whose `user-id` is not the
    /// publisher's own login, so a consumer can tell which account sent a message that carries one.
    public var userID: String?

    public init(body: [UInt8], headers: [String: String] = [:], messageID: String? = nil, userID: String? = nil) {
        self.body = body
        self.headers = headers
        self.messageID = messageID
        self.userID = userID
    }
}

/// One message handed to a consumer, to be settled exactly once through its consumer.
public struct AMQPDelivery: Sendable {
    public var message: AMQPMessage
    public var queue: String
    public var redelivered: Bool
    let deliveryTag: UInt64
    let generation: Int

    init(message: AMQPMessage, queue: String, redelivered: Bool, deliveryTag: UInt64, generation: Int) {
        self.message = message
        self.queue = queue
        self.redelivered = redelivered
        self.deliveryTag = deliveryTag
        self.generation = generation
    }

    /// A delivery that did not come from a broker, for deciding about a message without one (tests, replays);
    /// settling it through a consumer does nothing.
    public init(message: AMQPMessage, queue: String) {
        self.init(message: message, queue: queue, redelivered: false, deliveryTag: 0, generation: -1)
    }
}

/// What a consumer decided about a delivery: the decision is a value, so it is tested without a broker.
public enum AMQPSettlement: Sendable, Equatable {
    /// Done; remove it from the queue.
    case ack
    /// Not done now for a reason outside the message (a database or broker away): put it back for another try, as
    /// often as it takes.
    case retry
    /// Handling this message failed (a row the database refuses, a file that does not exist): try it again a bounded
    /// number of times, counted in the message itself, then move it to the `.dlq` with the last reason, so one bad
    /// message cannot hold a consumer's slot for ever.
    case failed(reason: String)
    /// Never processable; move it to the queue's `.dlq` with the reason in a header.
    case deadLetter(reason: String)
}
