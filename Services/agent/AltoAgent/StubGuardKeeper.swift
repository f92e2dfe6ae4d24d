import CAltoLinux
import Foundation
import Glibc
import Logging

/// `alto-agent guard`: a small process that owns the fanotify group watching the managed roots and the socket agents
/// connect to, and runs the guard proper (`StubGuard`, `alto-agent guard --worker`) as a child it restarts whenever
/// it exits. The kernel keeps a group's marks only while some process holds it, and lets every waiting read through
/// when the last holder goes; the keeper does nothing else, so a guard that crashes or is killed costs no protection:
/// reads of stubs queue in the group until the restarted guard takes them. The reads the dead guard had taken but
/// not answered are failed with EIO before its successor starts (the kernel does not hand them to another reader).
///
/// Under systemd the keeper also puts the group in the unit's file-descriptor store (`FileDescriptorStoreMax=`), and
/// takes it back from there when it starts: then even a keeper that is killed costs no protection, since the service
/// manager holds the group until the restarted keeper has it.
final class StubGuardKeeper {
    /// The most descriptors a guard may hold, so the events a dead one stranded can all be found.
    static let descriptorLimit: rlim_t = 65536
    /// The environment variables through which a group and its marked roots are handed on.
    static let groupVariable = "ALTO_GUARD_GROUP_FD"
    static let rootsVariable = "ALTO_GUARD_ROOTS"
    /// The guard keeps the keeper's lock open, so no second guard starts on the group while it lives.
    static let lockVariable = "ALTO_GUARD_LOCK_FD"

    private let roots: [String]
    private let socketPath: String
    private var logger: Logger

    init(roots: [String], socketPath: String, logger: Logger) {
        self.roots = roots
        self.socketPath = socketPath
        self.logger = logger
    }

    /// Watches until SIGTERM or SIGINT; throws when the roots cannot be watched, before it listens, or when another
    /// guard runs for the same socket (two guards reading one group would answer each other's events).
    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let termination = alto_termination_fd()
        guard termination >= 0 else { throw AgentError("cannot watch for SIGTERM: \(String(cString: strerror(errno)))") }
        let lock = try Self.lock(socketPath + ".lock")
        defer { close(lock) }
        let group = try openGroup()
        defer {
            // The kernel lets every read still queued in a group it releases through, onto the holes: fail them.
            let failed = alto_fanotify_fail_queued(group, EIO)
            logger.warning("stub guard stopped; stubs on the managed roots are unprotected until it runs again",
                           metadata: ["failed_reads": "\(failed)"])
            close(group)
        }
        for root in roots {
            guard MountTable.isMountPoint(root) else {
                throw AgentError("\(root) is not a mount point: the guard watches whole mounts, so give each managed root "
                                 + "its own (a volume, or `mount --bind \(root) \(root)`)")
            }
            guard alto_fanotify_mark_mount(group, root) == 0 else {
                throw AgentError("cannot watch \(root) for reads of stubs: \(String(cString: strerror(errno)))")
            }
        }
        var limit = rlimit(rlim_cur: Self.descriptorLimit, rlim_max: Self.descriptorLimit)
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let listener = try GuardSocket.listen(at: socketPath)
        defer {
            close(listener)
            unlink(socketPath)
        }
        if alto_notify_service_manager("FDSTORE=1\nFDNAME=\(Self.storedName)", group) < 0 || alto_notify_service_manager("READY=1", -1) < 0 {
            logger.warning("cannot hand the fanotify group to the service manager", metadata: ["error": "\(String(cString: strerror(errno)))"])
        }
        logger.info("stub guard keeper watching", metadata: ["roots": "\(roots.joined(separator: ","))", "socket": "\(socketPath)"])
        var delay = Duration.milliseconds(50)
        while true {
            let started = ContinuousClock.now
            if let worker = startWorker(descriptors: [group, listener, lock]) {
                let stopping = supervise(worker, termination: termination)
                let stranded = alto_fanotify_fail_stranded(group, Int32(limit.rlim_cur), EIO)
                if stopping { return }
                logger.error("stub guard exited; restarting it", metadata: ["failed_reads": "\(stranded)", "restart_in": "\(delay)"])
            }
            delay = ContinuousClock.now - started > .seconds(10) ? .milliseconds(50) : min(delay * 2, .seconds(5))
            if Self.wait(delay, unless: termination) { return }
        }
    }

    /// Takes the guard's lock for good (the guard it starts inherits it), or says which guard holds it.
    private static func lock(_ path: String) throws -> Int32 {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw AgentError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw AgentError("another stub guard runs for this socket (it holds \(path)); one group has one guard")
        }
        return descriptor
    }

    /// The name of the group in the service manager's file-descriptor store.
    static let storedName = "fanotify"

    /// A group handed on (by an agent that held the last one, or by the service manager) is kept, with its marks and
    /// the reads waiting in it; otherwise a new one. The events a previous guard took are failed first.
    private func openGroup() throws -> Int32 {
        if let inherited = GuardSocket.inherited(Self.groupVariable) ?? Self.storedGroup() {
            let stranded = alto_fanotify_fail_stranded(inherited, Int32(Self.descriptorLimit), EIO)
            logger.info("stub guard keeper took over a fanotify group", metadata: ["failed_reads": "\(stranded)"])
            return inherited
        }
        let group = alto_fanotify_init()
        guard group >= 0 else {
            throw AgentError("fanotify pre-content events are unavailable (\(String(cString: strerror(errno)))); "
                             + "they need Linux 6.14 or later and CAP_SYS_ADMIN, and without them no file is tiered")
        }
        return group
    }

    /// The group the service manager kept for this unit (`LISTEN_FDS`, named in `LISTEN_FDNAMES`), if any.
    private static func storedGroup() -> Int32? {
        let environment = ProcessInfo.processInfo.environment
        guard environment["LISTEN_PID"].flatMap(Int32.init) == getpid(), let count = environment["LISTEN_FDS"].flatMap(Int.init),
              let names = environment["LISTEN_FDNAMES"]?.split(separator: ":", omittingEmptySubsequences: false),
              let index = names.firstIndex(of: Substring(storedName)), index < count else { return nil }
        let descriptor = Int32(3 + index)
        guard fcntl(descriptor, F_GETFD) >= 0 else { return nil }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        return descriptor
    }

    /// Starts the guard with the group, the socket and the lock as descriptors 3, 4 and 5; nil when it cannot be.
    private func startWorker(descriptors: [Int32]) -> Int32? {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var environment = ProcessInfo.processInfo.environment
        environment[Self.groupVariable] = "3"
        environment[Self.rootsVariable] = String(decoding: (try? JSONEncoder().encode(roots)) ?? Data("[]".utf8), as: UTF8.self)
        environment[GuardSocket.listenerVariable] = "4"
        environment[Self.lockVariable] = "5"
        for variable in ["NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { environment[variable] = nil }
        let pid = Spawn.start(executable, ["alto-agent", "guard", "--worker"], environment: environment, descriptors: descriptors)
        guard pid > 0 else {
            logger.error("cannot start the stub guard; reads of stubs wait", metadata: ["error": "\(String(cString: strerror(errno)))"])
            return nil
        }
        logger.info("stub guard started", metadata: ["pid": "\(pid)"])
        return pid
    }

    /// Waits for the worker to exit; true when the keeper was asked to stop (the worker is stopped first).
    private func supervise(_ pid: Int32, termination: Int32) -> Bool {
        let exited = alto_pidfd_open(pid)
        defer { if exited >= 0 { close(exited) } }
        var descriptors = [pollfd(fd: termination, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: exited, events: Int16(POLLIN), revents: 0)]
        var status: Int32 = 0
        // Without a pidfd (an old kernel, a full descriptor table) the worker is looked at ten times a second.
        while true {
            let ready = poll(&descriptors, exited >= 0 ? 2 : 1, exited >= 0 ? -1 : 100)
            if ready < 0 && errno == EINTR { continue }
            if descriptors[0].revents != 0 || descriptors[1].revents != 0 { break }
            if exited < 0 && waitpid(pid, &status, WNOHANG) == pid {
                logger.error("stub guard exited", metadata: ["status": "\(Spawn.describe(status))"])
                return false
            }
        }
        guard descriptors[0].revents != 0 else {
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            logger.error("stub guard exited", metadata: ["status": "\(Spawn.describe(status))"])
            return false
        }
        kill(pid, SIGTERM)
        for _ in 0..<200 {
            if waitpid(pid, &status, WNOHANG) == pid { return true }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return true
    }

    /// Sleeps for `delay`; true when SIGTERM came meanwhile.
    private static func wait(_ delay: Duration, unless termination: Int32) -> Bool {
        var descriptor = pollfd(fd: termination, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)
        return poll(&descriptor, 1, milliseconds) > 0
    }
}
