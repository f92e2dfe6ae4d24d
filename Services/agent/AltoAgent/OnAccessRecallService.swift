import AltoAMQP
import AltoModels
import AltoTiering
import CAltoLinux
import Foundation
import Glibc
import Logging
import ServiceLifecycle
import Synchronization

/// The agent's side of on-access recall: connects to the stub guard, recalls each stub a reader is waiting for
/// through the descriptor the guard passed (writes through it raise no further events), answers the guard, and
/// reports the recall so the registry and inventory follow. Reconnects while the guard restarts.
struct OnAccessRecallService: Service {
    let socketPath: String
    let coordinator: RecallCoordinator
    let reporter: ResultReporter
    let logger: Logger

    func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                if let connection = connect() {
                    logger.info("connected to the stub guard; recalling on access", metadata: ["socket": "\(socketPath)"])
                    await serve(connection)
                    OnAccessWatch.use(group: -1)
                    logger.warning("stub guard connection closed")
                }
                try? await Task.sleep(for: .milliseconds(200))
            }
        } onGracefulShutdown: {}
    }

    private func connect() -> GuardConnection? {
        guard let socket = UnixSocketAddress.connect(to: socketPath) else { return nil }
        var hello = [UInt8](repeating: 0, count: 64)
        var group: Int32 = -1
        guard alto_receive_fd(socket, &group, &hello, hello.count) > 0, group >= 0 else {
            close(socket)
            return nil
        }
        OnAccessWatch.use(group: group)
        return GuardConnection(socket: socket)
    }

    /// Requests arrive on a thread of their own (a blocking receive); each recall runs as a task and answers when done.
    private func serve(_ connection: GuardConnection) async {
        let requests = AsyncStream<(GuardRequest, Int32)> { continuation in
            let thread = Thread {
                while let request = connection.receive() { continuation.yield(request) }
                continuation.finish()
            }
            thread.start()
        }
        await withTaskCancellationOrGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for await (request, descriptor) in requests {
                    group.addTask {
                        let outcome = await coordinator.recall(descriptor: descriptor, path: request.path)
                        close(descriptor)
                        connection.send(GuardResponse(id: request.id, error: outcome.outcome == .recalled ? 0 : EIO))
                        await reporter.report(AgentResult(jobID: nil, action: .recall, targetID: nil, files: [outcome]))
                    }
                }
            }
        } onCancelOrGracefulShutdown: {
            connection.shutdown()
        }
        connection.close()
    }
}

/// One connection to the guard: whole messages (SOCK_SEQPACKET), each with at most one descriptor.
final class GuardConnection: Sendable {
    private let socket: Int32
    private let sending = Mutex(())

    init(socket: Int32) {
        self.socket = socket
    }

    func receive() -> (GuardRequest, Int32)? {
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            var descriptor: Int32 = -1
            let count = alto_receive_fd(socket, &descriptor, &buffer, buffer.count)
            guard count > 0 else { return nil }
            if let request = try? JSONDecoder().decode(GuardRequest.self, from: Data(buffer[0..<count])), descriptor >= 0 {
                return (request, descriptor)
            }
            if descriptor >= 0 { Glibc.close(descriptor) }
        }
    }

    func send(_ response: GuardResponse) {
        guard let body = try? JSONEncoder().encode(response) else { return }
        sending.withLock { _ in _ = body.withUnsafeBytes { alto_send_fd(socket, -1, $0.baseAddress, $0.count) } }
    }

    func shutdown() { _ = Glibc.shutdown(socket, Int32(SHUT_RDWR)) }
    func close() { Glibc.close(socket) }
}
