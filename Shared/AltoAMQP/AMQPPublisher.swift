import Logging
import ServiceLifecycle

/// Publishes persistent messages and returns only once the broker has confirmed them.
///
/// A publish survives a broker restart: unconfirmed messages are sent again on the next connection, so delivery is
/// at least once and consumers deduplicate by envelope id. Declarations go through the same connection.
public final class AMQPPublisher: Service, Sendable {
    enum Command: Sendable {
        case publish(PendingPublish)
        case declare([AMQPDeclaration], CheckedContinuation<[AMQPQueueDepth], any Error>)
        case shutdown(CheckedContinuation<Void, Never>)
    }

    struct PendingPublish: Sendable {
        var message: AMQPMessage
        var exchange: String
        var routingKey: String
        var mandatory: Bool
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private let configuration: AMQPConfiguration
    private let logger: Logger
    private let worker: AMQPWorkerThread<Command>

    /// The broker login this publisher publishes as, the only `user-id` its messages may carry.
    public var login: String { configuration.account?.current?.user ?? configuration.user }

    public init(configuration: AMQPConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.worker = AMQPWorkerThread(name: "amqp-publisher")
    }

    /// Publishes to an exchange (`""` is the default exchange, which routes by queue name).
    ///
    /// - Parameter mandatory: fail with ``AMQPError/Code/unroutable`` when no queue takes the message, instead of
    ///   letting the broker drop it silently.
    public func publish(_ message: AMQPMessage, exchange: String = "", routingKey: String, mandatory: Bool = true) async throws {
        startIfNeeded()
        let deadline = ContinuousClock.now.advanced(by: configuration.publishTimeout)
        try await withCheckedThrowingContinuation { continuation in
            worker.submit(.publish(PendingPublish(message: message, exchange: exchange, routingKey: routingKey,
                                                  mandatory: mandatory, deadline: deadline, continuation: continuation)))
        }
    }

    /// Declares topology; idempotent, so every process declares what it uses.
    public func declare(_ declarations: [AMQPDeclaration]) async throws {
        _ = try await declared(declarations)
    }

    /// What each work queue and its dead-letter queue hold now, read by declaring them again as every process
    /// does at start (the broker answers a declaration with the queue's counts).
    public func queueDepths(of workQueues: [String]) async throws -> [AMQPQueueDepth] {
        try await declared(workQueues.map(AMQPDeclaration.workQueue))
    }

    private func declared(_ declarations: [AMQPDeclaration]) async throws -> [AMQPQueueDepth] {
        startIfNeeded()
        return try await withCheckedThrowingContinuation { continuation in
            worker.submit(.declare(declarations, continuation))
        }
    }

    /// Keeps the connection until graceful shutdown, then confirms or fails what is in flight and closes.
    public func run() async throws {
        startIfNeeded()
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Confirms or fails every pending publish, then closes the connection and ends the thread.
    public func shutdown() async {
        startIfNeeded()
        await withCheckedContinuation { continuation in
            worker.submit(.shutdown(continuation))
        }
    }

    private func startIfNeeded() {
        worker.startOnce { [configuration, logger, worker] in
            var loop = AMQPPublisherLoop(configuration: configuration, logger: logger, worker: worker)
            loop.run()
        }
    }
}

/// The publisher thread's state; nothing here is shared, so nothing here locks.
struct AMQPPublisherLoop {
    let configuration: AMQPConfiguration
    let logger: Logger
    let worker: AMQPWorkerThread<AMQPPublisher.Command>
    private var session: AMQPSession?
    private var waiting: [AMQPPublisher.PendingPublish] = []
    private var reconnectDelay: Duration = .milliseconds(100)

    init(configuration: AMQPConfiguration, logger: Logger, worker: AMQPWorkerThread<AMQPPublisher.Command>) {
        self.configuration = configuration
        self.logger = logger
        self.worker = worker
    }

    mutating func run() {
        var declarations: [([AMQPDeclaration], CheckedContinuation<[AMQPQueueDepth], any Error>)] = []
        var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
        while true {
            for command in worker.takeAll() {
                switch command {
                case .publish(let pending): waiting.append(pending)
                case .declare(let items, let continuation): declarations.append((items, continuation))
                case .shutdown(let continuation): shutdownWaiters.append(continuation)
                }
            }
            failExpired()
            if waiting.isEmpty && declarations.isEmpty {
                if !shutdownWaiters.isEmpty { break }
                _ = worker.waitForWork(socket: session?.socketDescriptor, timeout: .seconds(1))
                checkIdleConnection()
                continue
            }
            guard let session = connectedSession() else {
                if !shutdownWaiters.isEmpty { break }
                _ = worker.waitForWork(socket: nil, timeout: reconnectDelay)
                reconnectDelay = min(reconnectDelay * 2, configuration.maximumReconnectDelay)
                continue
            }
            while self.session != nil, !declarations.isEmpty {
                let (items, continuation) = declarations.removeFirst()
                do {
                    continuation.resume(returning: try items.flatMap(session.apply))
                } catch {
                    continuation.resume(throwing: error)
                    drop(session, error)
                }
            }
            if self.session != nil { publishWaiting(on: session) }
        }
        let error = AMQPError(.shutDown, "the publisher was shut down")
        waiting.forEach { $0.continuation.resume(throwing: error) }
        declarations.forEach { $0.1.resume(throwing: error) }
        session?.close()
        session = nil
        shutdownWaiters.forEach { $0.resume() }
    }

    private mutating func connectedSession() -> AMQPSession? {
        if let session { return session }
        do {
            let session = try AMQPSession(configuration: configuration, confirms: true)
            logger.info("publisher connected", metadata: ["amqp.broker": "\(configuration)"])
            self.session = session
            reconnectDelay = .milliseconds(100)
            return session
        } catch {
            logger.warning("publisher cannot connect, will retry", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Sends every waiting message, then reads confirms until each is settled or the connection fails.
    private mutating func publishWaiting(on session: AMQPSession) {
        var inFlight: [(tag: UInt64, pending: AMQPPublisher.PendingPublish)] = []
        var nextTag: UInt64 = session.publishedCount + 1
        let batch = waiting
        waiting.removeAll()
        for (index, pending) in batch.enumerated() {
            do {
                try session.publish(pending.message, exchange: pending.exchange, routingKey: pending.routingKey,
                                    mandatory: pending.mandatory)
                inFlight.append((nextTag, pending))
                nextTag += 1
                session.publishedCount += 1
            } catch {
                waiting = inFlight.map(\.pending) + batch[index...]
                drop(session, error)
                return
            }
        }
        var returnedTag = false
        while !inFlight.isEmpty {
            do {
                switch try session.nextConfirmEvent(timeout: .seconds(1)) {
                case .ack(let tag, let multiple):
                    let settled = inFlight.filter { multiple ? $0.tag <= tag : $0.tag == tag }
                    inFlight.removeAll { multiple ? $0.tag <= tag : $0.tag == tag }
                    for item in settled {
                        if returnedTag && item.tag == tag {
                            item.pending.continuation.resume(throwing: AMQPError(.unroutable, "no queue is bound for \(item.pending.routingKey)"))
                        } else {
                            item.pending.continuation.resume()
                        }
                    }
                    returnedTag = false
                case .nack(let tag, let multiple):
                    let settled = inFlight.filter { multiple ? $0.tag <= tag : $0.tag == tag }
                    inFlight.removeAll { multiple ? $0.tag <= tag : $0.tag == tag }
                    settled.forEach { $0.pending.continuation.resume(throwing: AMQPError(.publishRejected, "the broker refused the message")) }
                case .returned:
                    returnedTag = true
                case .timeout:
                    let now = ContinuousClock.now
                    if inFlight.allSatisfy({ $0.pending.deadline < now }) {
                        waiting = inFlight.map(\.pending)
                        drop(session, AMQPError(.timedOut, "no confirm from the broker"))
                        return
                    }
                }
            } catch {
                waiting = inFlight.map(\.pending)
                drop(session, error)
                return
            }
        }
    }

    /// Reads whatever the broker sent while idle: librabbitmq sends and checks heartbeats on the way, and a close
    /// (restart, admin action, a silent peer) is noticed before the next publish.
    private mutating func checkIdleConnection() {
        guard let session else { return }
        do {
            _ = try session.nextConfirmEvent(timeout: .zero)
        } catch {
            drop(session, error)
        }
    }

    private mutating func drop(_ session: AMQPSession, _ error: any Error) {
        logger.warning("publisher connection lost, will reconnect", metadata: ["error": "\(error)"])
        session.close()
        self.session = nil
    }

    private mutating func failExpired() {
        let now = ContinuousClock.now
        waiting.removeAll { pending in
            guard pending.deadline < now else { return false }
            pending.continuation.resume(throwing: AMQPError(.timedOut, "not confirmed within \(configuration.publishTimeout)"))
            return true
        }
    }
}
