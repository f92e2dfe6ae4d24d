import Logging
import Synchronization

/// Receives messages from one queue with manual acknowledgement and a prefetch, reconnecting by itself.
///
/// Deliveries arrive on an `AsyncStream`; each is settled with ``settle(_:_:)``. After a reconnect the broker
/// redelivers whatever was not acknowledged, and settlements for deliveries of the lost connection are dropped.
public final class AMQPConsumer: Sendable {
    enum Command: Sendable {
        case ack(tag: UInt64, generation: Int)
        case nack(tag: UInt64, generation: Int, requeue: Bool)
        case stop
        case close(CheckedContinuation<Void, Never>)
    }

    public let queue: String
    private let configuration: AMQPConfiguration
    private let prefetch: UInt16
    private let declarations: [AMQPDeclaration]
    private let logger: Logger
    private let worker: AMQPWorkerThread<Command>
    private let stopping = Atomic<Bool>(false)
    private let stream: AsyncStream<AMQPDelivery>
    private let output: AsyncStream<AMQPDelivery>.Continuation

    /// - Parameter declarations: topology to declare on every (re)connection before consuming, so the queue exists.
    public init(configuration: AMQPConfiguration, queue: String, prefetch: UInt16 = 16,
                declarations: [AMQPDeclaration], logger: Logger) {
        self.queue = queue
        self.configuration = configuration
        self.prefetch = prefetch
        self.declarations = declarations
        self.logger = logger
        self.worker = AMQPWorkerThread(name: "amqp-consumer")
        (self.stream, self.output) = AsyncStream.makeStream(of: AMQPDelivery.self)
    }

    /// Starts consuming the first time; every call returns the same stream, which ends on ``stop()``.
    /// Iterate it from one task at a time.
    public func deliveries() -> AsyncStream<AMQPDelivery> {
        worker.startOnce { [configuration, queue, prefetch, declarations, logger, worker, output] in
            var loop = AMQPConsumerLoop(configuration: configuration, queue: queue, prefetch: prefetch,
                                        declarations: declarations, logger: logger, worker: worker,
                                        output: output)
            loop.run()
        }
        return stream
    }

    public func settle(_ delivery: AMQPDelivery, _ settlement: AMQPSettlement) {
        switch settlement {
        case .ack:
            worker.submit(.ack(tag: delivery.deliveryTag, generation: delivery.generation))
        case .retry, .failed:
            worker.submit(.nack(tag: delivery.deliveryTag, generation: delivery.generation, requeue: true))
        case .deadLetter:
            worker.submit(.nack(tag: delivery.deliveryTag, generation: delivery.generation, requeue: false))
        }
    }

    /// Stops reading new deliveries and ends the stream; those received but not settled go back to the queue on
    /// ``close()``.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        worker.submit(.stop)
    }

    public var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Sends the settlements submitted so far, closes the connection and ends the stream.
    public func close() async {
        stop()
        await withCheckedContinuation { continuation in
            worker.submit(.close(continuation))
        }
    }
}

/// The consumer thread's state.
struct AMQPConsumerLoop {
    let configuration: AMQPConfiguration
    let queue: String
    let prefetch: UInt16
    let declarations: [AMQPDeclaration]
    let logger: Logger
    let worker: AMQPWorkerThread<AMQPConsumer.Command>
    let output: AsyncStream<AMQPDelivery>.Continuation
    private var session: AMQPSession?
    private var generation = 0
    private var stopped = false
    private var reconnectDelay: Duration = .milliseconds(100)

    init(configuration: AMQPConfiguration, queue: String, prefetch: UInt16, declarations: [AMQPDeclaration],
         logger: Logger, worker: AMQPWorkerThread<AMQPConsumer.Command>,
         output: AsyncStream<AMQPDelivery>.Continuation) {
        self.configuration = configuration
        self.queue = queue
        self.prefetch = prefetch
        self.declarations = declarations
        self.logger = logger
        self.worker = worker
        self.output = output
    }

    mutating func run() {
        while true {
            if let closeWaiter = handleCommands() {
                session?.close()
                output.finish()
                closeWaiter.resume()
                return
            }
            if stopped {
                _ = worker.waitForWork(socket: nil, timeout: .seconds(1))
                continue
            }
            guard let session = connectedSession() else {
                _ = worker.waitForWork(socket: nil, timeout: reconnectDelay)
                reconnectDelay = min(reconnectDelay * 2, configuration.maximumReconnectDelay)
                continue
            }
            // Reading even when nothing arrived lets librabbitmq send and check heartbeats on an idle connection.
            let readable = session.hasBufferedInput || worker.waitForWork(socket: session.socketDescriptor, timeout: .seconds(1))
            do {
                while let delivery = try session.nextDelivery(queue: queue, generation: generation,
                                                              timeout: readable ? .milliseconds(10) : .zero) {
                    output.yield(delivery)
                    if !session.hasBufferedInput { break }
                }
            } catch {
                drop(session, error)
            }
        }
    }

    /// Applies settlements in order; returns the close request, if one came, after everything before it.
    private mutating func handleCommands() -> CheckedContinuation<Void, Never>? {
        for command in worker.takeAll() {
            switch command {
            case .ack(let tag, let deliveryGeneration):
                guard deliveryGeneration == generation, let session else { continue }
                do { try session.ack(tag) } catch { drop(session, error) }
            case .nack(let tag, let deliveryGeneration, let requeue):
                guard deliveryGeneration == generation, let session else { continue }
                do { try session.nack(tag, requeue: requeue) } catch { drop(session, error) }
            case .stop:
                stopped = true
                output.finish()
            case .close(let continuation):
                return continuation
            }
        }
        return nil
    }

    private mutating func connectedSession() -> AMQPSession? {
        if let session { return session }
        do {
            let session = try AMQPSession(configuration: configuration, confirms: false)
            for declaration in declarations { try session.apply(declaration) }
            try session.consume(queue: queue, prefetch: prefetch)
            generation += 1
            self.session = session
            reconnectDelay = .milliseconds(100)
            logger.info("consumer connected", metadata: ["amqp.queue": "\(queue)", "amqp.broker": "\(configuration)"])
            return session
        } catch {
            logger.warning("consumer cannot connect, will retry", metadata: ["amqp.queue": "\(queue)", "error": "\(error)"])
            return nil
        }
    }

    private mutating func drop(_ session: AMQPSession, _ error: any Error) {
        logger.warning("consumer connection lost, will reconnect", metadata: ["amqp.queue": "\(queue)", "error": "\(error)"])
        session.close()
        self.session = nil
    }
}
