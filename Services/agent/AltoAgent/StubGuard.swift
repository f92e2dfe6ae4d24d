import AltoModels
import AltoTiering
import CAltoLinux
import Foundation
import Glibc
import Logging

/// The Linux stub driver's gatekeeper, a small process of its own (`alto-agent guard`) that owns the fanotify
/// group watching the managed roots' mounts for opens and pre-content events. It answers what needs no tier-2 access
/// itself (ordinary files, scanning programs, header sniffers reading inside a stub's resident preview) and hands
/// every other open or read of a stub to the agent over a Unix socket, with the event's descriptor. Because it outlives the agent, a reader never sees
/// a stub's hole as zeros: while no agent is connected the read waits up to `recallWaitSeconds` for one, then fails
/// with EIO. When the guard itself stops it fails what is waiting before it lets go of the group.
final class StubGuard {
    private struct Waiting {
        var event: alto_fanotify_event
        var path: String
        var deadline: Date
        var forwarded: Bool
    }

    private let roots: [String]
    private let policy: GuardPolicy
    private let socketPath: String
    private let waitSeconds: Int
    private var logger: Logger
    private var group: Int32 = -1
    private var listener: Int32 = -1
    private var agent: Int32 = -1
    private var agentPID: Int32 = -1
    private var waiting: [UInt64: Waiting] = [:]
    private var nextID: UInt64 = 1

    init(roots: [String], policy: GuardPolicy, socketPath: String, waitSeconds: Int, logger: Logger) {
        self.roots = roots
        self.policy = policy
        self.socketPath = socketPath
        self.waitSeconds = waitSeconds
        self.logger = logger
    }

    /// Watches until SIGTERM or SIGINT.
    func run() throws {
        let termination = alto_termination_fd()
        guard termination >= 0 else { throw AgentError("cannot watch for SIGTERM: \(String(cString: strerror(errno)))") }
        group = alto_fanotify_init()
        guard group >= 0 else {
            throw AgentError("fanotify pre-content events are unavailable (\(String(cString: strerror(errno)))); "
                             + "they need Linux 6.14 or later and CAP_SYS_ADMIN; stubs can only be recalled explicitly")
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
        listener = try Self.listen(at: socketPath)
        logger.info("stub guard watching", metadata: ["roots": "\(roots.joined(separator: ","))", "socket": "\(socketPath)"])
        defer { shutDown() }
        while true {
            var descriptors = [pollfd(fd: group, events: Int16(POLLIN), revents: 0),
                               pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                               pollfd(fd: termination, events: Int16(POLLIN), revents: 0),
                               pollfd(fd: agent, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&descriptors, nfds_t(agent >= 0 ? 4 : 3), waiting.isEmpty ? -1 : 250)
            if ready < 0 && errno != EINTR { throw AgentError("poll: \(String(cString: strerror(errno)))") }
            if descriptors[2].revents != 0 { return }
            if descriptors[0].revents != 0 { readEvents() }
            if descriptors[1].revents != 0 { acceptAgent() }
            if agent >= 0 && descriptors[3].revents != 0 { readAnswers() }
            failOverdue()
        }
    }

    private func readEvents() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 8)
        defer { buffer.deallocate() }
        let length = read(group, buffer.baseAddress, buffer.count)
        guard length > 0 else { return }
        var position = 0
        var event = alto_fanotify_event()
        while alto_fanotify_next(buffer.baseAddress, length, &position, &event) != 0 {
            guard event.fd >= 0 else { continue }
            decide(event)
        }
    }

    private func decide(_ event: alto_fanotify_event) {
        var event = event
        let isFromAlto = event.pid == agentPID || event.pid == getpid()
        let record = isFromAlto ? nil : StubFile.record(descriptor: event.fd)
        let process = ProcessFiles(pid: event.pid)
        let kind: GuardPolicy.Access.Kind = alto_fanotify_is_open(&event) != 0
            ? .open : .read(range: event.has_range != 0 ? event.offset..<(event.offset + event.count) : nil)
        let access = GuardPolicy.Access(kind: kind, isFromAlto: isFromAlto, residentBytes: record?.residentBytes,
                                        program: record == nil ? "" : process.name)
        switch policy.decide(access, writesTheFile: { process.writes(sameFileAs: event.fd) }) {
        case .allow(let ignoreFurther):
            answer(event.fd, error: 0, ignoreFurther: ignoreFurther)
        case .preview:
            answer(event.fd, error: 0, ignoreFurther: false)
        case .refuse(let error):
            logger.info("scanning program refused a stub",
                        metadata: ["path": "\(Self.path(of: event.fd))", "program": "\(access.program)", "pid": "\(event.pid)"])
            answer(event.fd, error: error, ignoreFurther: false)
        case .recall:
            let id = nextID
            nextID += 1
            waiting[id] = Waiting(event: event, path: Self.path(of: event.fd), deadline: Date().addingTimeInterval(Double(waitSeconds)),
                                  forwarded: false)
            forward(id)
        }
    }

    private func forward(_ id: UInt64) {
        guard agent >= 0, var entry = waiting[id], !entry.forwarded else { return }
        let request = GuardRequest(id: id, pid: entry.event.pid, path: entry.path)
        guard let body = try? JSONEncoder().encode(request),
              body.withUnsafeBytes({ alto_send_fd(agent, entry.event.fd, $0.baseAddress, $0.count) }) == body.count
        else {
            return dropAgent()
        }
        entry.forwarded = true
        waiting[id] = entry
    }

    private func readAnswers() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var received: Int32 = -1
        let count = alto_receive_fd(agent, &received, &buffer, buffer.count)
        if received >= 0 { close(received) }
        guard count > 0 else { return dropAgent() }
        guard let response = try? JSONDecoder().decode(GuardResponse.self, from: Data(buffer[0..<count])),
              let entry = waiting.removeValue(forKey: response.id)
        else { return }
        answer(entry.event.fd, error: response.error, ignoreFurther: response.error == 0)
    }

    private func acceptAgent() {
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return }
        guard agent < 0 else {
            logger.warning("a second agent tried to connect; refused")
            close(connection)
            return
        }
        let hello = Array("{}".utf8)
        guard alto_send_fd(connection, group, hello, hello.count) == hello.count else {
            close(connection)
            return
        }
        agent = connection
        agentPID = alto_peer_pid(connection)
        logger.info("agent connected", metadata: ["pid": "\(agentPID)", "waiting": "\(waiting.count)"])
        for id in waiting.keys.sorted() { forward(id) }
    }

    /// The agent went away: what it had not answered waits for the next one, within the same deadline.
    private func dropAgent() {
        guard agent >= 0 else { return }
        close(agent)
        agent = -1
        agentPID = -1
        let now = Date().addingTimeInterval(Double(waitSeconds))
        for id in waiting.keys {
            if waiting[id]!.forwarded {
                waiting[id]!.forwarded = false
                waiting[id]!.deadline = now
            }
        }
        logger.warning("agent disconnected; reads of stubs wait for it", metadata: ["seconds": "\(waitSeconds)", "waiting": "\(waiting.count)"])
    }

    private func failOverdue() {
        let now = Date()
        for (id, entry) in waiting where !entry.forwarded && entry.deadline <= now {
            waiting[id] = nil
            logger.error("no agent to recall a stub; the read fails with EIO", metadata: ["path": "\(entry.path)"])
            answer(entry.event.fd, error: EIO, ignoreFurther: false)
        }
    }

    private func answer(_ descriptor: Int32, error: Int32, ignoreFurther: Bool) {
        if ignoreFurther { _ = alto_fanotify_ignore(group, descriptor) }
        if alto_fanotify_respond(group, descriptor, error == 0 ? 1 : 0, error) != 0 {
            logger.error("cannot answer a fanotify event", metadata: ["error": "\(String(cString: strerror(errno)))"])
        }
        close(descriptor)
    }

    private func shutDown() {
        for entry in waiting.values { answer(entry.event.fd, error: EIO, ignoreFurther: false) }
        waiting.removeAll()
        if agent >= 0 { close(agent) }
        if listener >= 0 { close(listener) }
        unlink(socketPath)
        if group >= 0 { close(group) }
        logger.info("stub guard stopped")
    }

    static func path(of descriptor: Int32) -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(descriptor)")) ?? "fd \(descriptor)"
    }

    private static func listen(at path: String) throws -> Int32 {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        unlink(path)
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw AgentError("socket: \(String(cString: strerror(errno)))") }
        var address = UnixSocketAddress(path: path)
        guard address.withSockaddr({ bind(socket, $0, $1) }) == 0, Glibc.listen(socket, 4) == 0 else {
            throw AgentError("cannot listen on \(path): \(String(cString: strerror(errno)))")
        }
        chmod(path, 0o600)
        return socket
    }
}
