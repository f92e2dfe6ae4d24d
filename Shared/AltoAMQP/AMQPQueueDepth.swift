/// What a queue holds when asked: messages ready for a consumer, and the consumers following it.
public struct AMQPQueueDepth: Sendable, Equatable {
    public var queue: String
    public var messages: Int
    public var consumers: Int
}
