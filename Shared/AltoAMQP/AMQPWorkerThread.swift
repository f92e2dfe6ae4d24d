import Foundation
import Glibc
import Synchronization

/// A dedicated OS thread with a command inbox, because a librabbitmq connection must only be used by one thread.
///
/// Async callers submit commands and are woken through continuations; the thread sleeps in `poll(2)` on the
/// broker socket and a wake-up pipe, so a command wakes it at once even while it waits for the broker.
final class AMQPWorkerThread<Command: Sendable>: Sendable {
    private let inbox = Mutex<[Command]>([])
    private let started = Atomic<Bool>(false)
    private let wakeReader: Int32
    private let wakeWriter: Int32
    private let name: String

    init(name: String) {
        self.name = name
        var descriptors: [Int32] = [-1, -1]
        precondition(pipe(&descriptors) == 0, "cannot create a wake-up pipe")
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        self.wakeReader = descriptors[0]
        self.wakeWriter = descriptors[1]
    }

    deinit {
        Glibc.close(wakeReader)
        Glibc.close(wakeWriter)
    }

    /// Starts the thread the first time it is asked; later calls do nothing.
    func startOnce(_ body: @escaping @Sendable () -> Void) {
        guard started.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            return
        }
        let thread = Thread(block: body)
        thread.name = name
        thread.start()
    }

    func submit(_ command: Command) {
        inbox.withLock { $0.append(command) }
        var one: UInt8 = 1
        _ = write(wakeWriter, &one, 1)
    }

    func takeAll() -> [Command] {
        inbox.withLock { commands in
            defer { commands.removeAll(keepingCapacity: true) }
            return commands
        }
    }

    /// Sleeps until a command arrives, the socket is readable, or the timeout passes; true when the socket is readable.
    func waitForWork(socket: Int32?, timeout: Duration) -> Bool {
        if inbox.withLock({ !$0.isEmpty }) { return false }
        var descriptors = [pollfd(fd: wakeReader, events: Int16(POLLIN), revents: 0)]
        if let socket, socket >= 0 {
            descriptors.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0))
        }
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        _ = poll(&descriptors, nfds_t(descriptors.count), milliseconds)
        if descriptors[0].revents != 0 {
            var drained = [UInt8](repeating: 0, count: 256)
            while read(wakeReader, &drained, drained.count) > 0 {}
        }
        return descriptors.count > 1 && descriptors[1].revents != 0
    }
}
