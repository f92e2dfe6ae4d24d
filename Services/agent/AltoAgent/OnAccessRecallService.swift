import AltoModels
import AltoTiering
import CAltoLinux
import Foundation
import Glibc
import Logging
import ServiceLifecycle
import Synchronization

/// The agent's side of on-access recall: keeps a link to the stub guard (`GuardLink`, on a thread of its own),
/// recalls each stub a reader is waiting for through the descriptor the guard passed (writes through it raise no
/// further events), answers the guard, reports the recall so the registry and inventory follow, and reports the
/// security notices the guard sends.
struct OnAccessRecallService: Service {
    let link: GuardLink
    let coordinator: RecallCoordinator
    let reporter: ResultReporter
    let security: SecurityReporter
    let logger: Logger

    func run() async throws {
        let messages = AsyncStream<GuardLink.Message> { continuation in
            Thread.detachNewThread {
                link.run { continuation.yield($0) }
                continuation.finish()
            }
        }
        await withTaskCancellationOrGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for await message in messages {
                    switch message {
                    case .recall(let request, let descriptor, let connection):
                        group.addTask {
                            let outcome = await coordinator.recallForReader(descriptor: descriptor, path: request.path)
                            close(descriptor)
                            connection.send(GuardResponse(id: request.id, error: outcome.isWhole ? 0 : EIO))
                            if let report = outcome.report {
                                reporter.report(AgentResult(jobID: nil, action: .recall, targetID: nil, files: [report]))
                            }
                        }
                    case .notice(let notice):
                        security.report(path: notice.path, problem: notice.problem, uid: notice.uid)
                    }
                }
            }
        } onCancelOrGracefulShutdown: {
            link.stop()
        }
    }
}

/// The agent's connection to the stub guard, kept on a thread of its own so that it never waits on the cooperative
/// pool (whose threads may be blocked in opens the guard must answer). When the guard goes, the agent keeps its
/// fanotify group, so the marks stay and readers wait; if nothing listens on the socket for `handOverAfter`, it starts
/// a guard and hands it the group (where the service manager runs the guard, it keeps the group until one is back).
final class GuardLink: Sendable {
    enum Message: Sendable {
        case recall(GuardRequest, Int32, GuardConnection)
        case notice(GuardNotice)
    }

    let socketPath: String
    let launcher: StubGuardLauncher?
    let logger: Logger
    /// How long no guard may answer before this agent starts one with its group.
    private let handOverAfter: Duration = .seconds(2)
    private let relaunchEvery: Duration = .seconds(10)
    private let stopped = Atomic<Bool>(false)
    private let current = Mutex<Int32>(-1)

    /// - Parameter launcher: starts guards when none runs; nil where the service manager runs the guard.
    init(socketPath: String, launcher: StubGuardLauncher?, logger: Logger) {
        self.socketPath = socketPath
        self.launcher = launcher
        self.logger = logger
    }

    func run(_ deliver: (Message) -> Void) {
        var unansweredSince: ContinuousClock.Instant?
        var lastLaunch: ContinuousClock.Instant?
        while !stopped.load(ordering: .acquiring) {
            switch connect() {
            case .connected(let connection):
                unansweredSince = nil
                logger.info("connected to the stub guard; recalling on access", metadata: ["socket": "\(socketPath)",
                                                                                         "roots": "\(OnAccessWatch.guardedRoots)"])
                while let message = connection.receive() { deliver(message) }
                OnAccessWatch.disconnected()
                current.withLock { $0 = -1 }
                connection.close()
                if !stopped.load(ordering: .acquiring) { logger.warning("stub guard connection closed; no stub is made until it is back") }
                continue
            case .refused:
                // A guard runs but would not take this agent (another one has it): never start a second guard on its group.
                unansweredSince = nil
            case .nobodyListening:
                let now = ContinuousClock.now
                let since = unansweredSince ?? now
                unansweredSince = since
                if let launcher, now - since > handOverAfter, lastLaunch.map({ now - $0 > relaunchEvery }) ?? true {
                    let group = OnAccessWatch.release()
                    logger.error("no stub guard answers; starting one", metadata: ["handing_group": "\(group >= 0)"])
                    if !launcher.start(handing: group), group >= 0 { OnAccessWatch.keep(group) }
                    lastLaunch = now
                }
                // Where the service manager runs the guard, the group is kept until it is back: readers wait, and
                // none of them reads a hole.
            }
            usleep(100_000)
        }
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
        current.withLock { socket in if socket >= 0 { _ = shutdown(socket, Int32(SHUT_RDWR)) } }
    }

    enum Connection {
        case connected(GuardConnection)
        /// A guard answered but refused this agent.
        case refused
        /// No guard listens on the socket.
        case nobodyListening
    }

    private func connect() -> Connection {
        guard let socket = UnixSocketAddress.connect(to: socketPath) else { return .nobodyListening }
        current.withLock { $0 = socket }
        guard let (group, hello) = Self.handshake(socket, as: .agent), group >= 0 else {
            current.withLock { $0 = -1 }
            close(socket)
            return .refused
        }
        OnAccessWatch.use(group: group, roots: hello.roots)
        return .connected(GuardConnection(socket: socket))
    }

    /// Says what this process is and waits for the guard's hello: from then on the guard lets this process's own
    /// opens of stubs through. An agent gets the group with it; nil when the guard refused.
    static func handshake(_ socket: Int32, as role: GuardClientHello.Role) -> (group: Int32, hello: GuardHello)? {
        guard let introduction = try? JSONEncoder().encode(GuardClientHello(role: role)),
              introduction.withUnsafeBytes({ alto_send_fd(socket, -1, $0.baseAddress, $0.count) }) == introduction.count else { return nil }
        var hello = [UInt8](repeating: 0, count: 64 << 10)
        var group: Int32 = -1
        let count = alto_receive_fd(socket, &group, &hello, hello.count)
        guard count > 0, let decoded = try? JSONDecoder().decode(GuardHello.self, from: Data(hello[0..<count])) else {
            if group >= 0 { close(group) }
            return nil
        }
        return (group, decoded)
    }
}

/// One connection to the guard: whole messages (SOCK_SEQPACKET), each with at most one descriptor.
final class GuardConnection: Sendable {
    private let socket: Int32
    /// Whether the socket was closed: an answer that comes later must not reach whatever reuses its number.
    private let closed = Mutex(false)

    init(socket: Int32) {
        self.socket = socket
    }

    func receive() -> GuardLink.Message? {
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            var descriptor: Int32 = -1
            let count = alto_receive_fd(socket, &descriptor, &buffer, buffer.count)
            guard count > 0 else { return nil }
            let body = Data(buffer[0..<count])
            if descriptor >= 0 {
                if let request = try? JSONDecoder().decode(GuardRequest.self, from: body) { return .recall(request, descriptor, self) }
                Glibc.close(descriptor)
            } else if let notice = try? JSONDecoder().decode(GuardNotice.self, from: body) {
                return .notice(notice)
            }
        }
    }

    func send(_ response: GuardResponse) {
        guard let body = try? JSONEncoder().encode(response) else { return }
        closed.withLock { closed in
            guard !closed else { return }
            _ = body.withUnsafeBytes { alto_send_fd(socket, -1, $0.baseAddress, $0.count) }
        }
    }

    func close() {
        closed.withLock { closed in
            closed = true
            Glibc.close(socket)
        }
    }
}
