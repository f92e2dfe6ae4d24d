import Foundation
import Synchronization

/// Kills a child process that outlives its time, so a hung program fails its test instead of holding it forever.
final class Watchdog: Sendable {
    private let killed = Atomic<Bool>(false)
    private let cancelled = Atomic<Bool>(false)

    init(_ process: Process, after timeout: Duration) {
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + Double(timeout.components.seconds)) { [self] in
            guard !cancelled.load(ordering: .relaxed) else { return }
            killed.store(true, ordering: .relaxed)
            kill(pid, SIGKILL)
        }
    }

    /// Whether the process was killed for running too long.
    var fired: Bool { killed.load(ordering: .relaxed) }

    /// Called once the process has ended, so its id, which the system may give to another, is left alone.
    func cancel() {
        cancelled.store(true, ordering: .relaxed)
    }
}

#if canImport(Glibc)
import Glibc
#endif
