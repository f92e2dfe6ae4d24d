import AltoModels
import AltoTiering
import CAltoLinux
import Foundation
import Glibc
import Logging

/// The Linux stub driver's gatekeeper (`alto-agent guard --worker`), run and restarted by `StubGuardKeeper`, whose
/// fanotify group and socket it inherits. It reads the group's opens and pre-content events, answers what needs no
/// tier-2 access itself (ordinary files, scanning programs, header sniffers reading inside a stub's resident preview)
/// and hands every other open or read of a stub to the agent over the socket, with the event's descriptor. Because
/// it outlives the agent, a reader never sees a stub's hole as zeros: while no agent is connected the read waits up
/// to `recallWaitSeconds` for one, then fails with EIO. When the guard stops it fails what is waiting.
final class StubGuard {
    private struct Waiting {
        var event: alto_fanotify_event
        var path: String
        var deadline: Date
        var forwarded: Bool
    }

    private let policy: GuardPolicy
    private let waitSeconds: Int
    private var logger: Logger
    private var group: Int32 = -1
    private var listener: Int32 = -1
    private var agent: Int32 = -1
    private var agentPID: Int32 = -1
    private var waiting: [UInt64: Waiting] = [:]
    private var nextID: UInt64 = 1

    private var hello = GuardHello(roots: [])
    /// `alto-agent recall` processes standing in for a missing agent, by connection: their opens are let through,
    /// and nothing is forwarded to them.
    private var standIns: [Int32: Int32] = [:]
    /// Connections that have not yet said what they are, with the time by which they must.
    private var unidentified: [Int32: Date] = [:]
    /// Security notices not yet handed to an agent, oldest first, at most `noticeLimit`.
    private var notices: [GuardNotice] = []
    private static let noticeLimit = 1000
    /// The file versions (device, inode, change time) already noticed, so one forgery opened many times is one event.
    private var noticed: Set<[Int]> = []

    init(policy: GuardPolicy, waitSeconds: Int, logger: Logger) {
        self.policy = policy
        self.waitSeconds = waitSeconds
        self.logger = logger
    }

    /// Watches until SIGTERM or SIGINT.
    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let termination = alto_termination_fd()
        guard termination >= 0 else { throw AgentError("cannot watch for SIGTERM: \(String(cString: strerror(errno)))") }
        guard let group = GuardSocket.inherited(StubGuardKeeper.groupVariable),
              let listener = GuardSocket.inherited(GuardSocket.listenerVariable),
              let roots = ProcessInfo.processInfo.environment[StubGuardKeeper.rootsVariable]
                .flatMap({ try? JSONDecoder().decode([String].self, from: Data($0.utf8)) })
        else {
            throw AgentError("`alto-agent guard --worker` is started by `alto-agent guard`, which hands it the fanotify group")
        }
        self.group = group
        self.listener = listener
        _ = GuardSocket.inherited(StubGuardKeeper.lockVariable)
        hello = GuardHello(roots: roots)
        logger.info("stub guard watching", metadata: ["roots": "\(roots.joined(separator: ","))", "pid": "\(getpid())"])
        defer { shutDown() }
        while true {
            let clients = standIns.keys.sorted()
            let newcomers = unidentified.keys.sorted()
            var descriptors = [pollfd(fd: group, events: Int16(POLLIN), revents: 0),
                               pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                               pollfd(fd: termination, events: Int16(POLLIN), revents: 0),
                               pollfd(fd: agent, events: Int16(POLLIN), revents: 0)]
                + (clients + newcomers).map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&descriptors, nfds_t(descriptors.count), waiting.isEmpty && newcomers.isEmpty ? -1 : 250)
            if ready < 0 && errno != EINTR { throw AgentError("poll: \(String(cString: strerror(errno)))") }
            if descriptors[2].revents != 0 { return }
            if descriptors[0].revents != 0 { readEvents() }
            if descriptors[1].revents != 0 { acceptClient() }
            if agent >= 0 && descriptors[3].revents != 0 { readAnswers() }
            for (index, client) in clients.enumerated() where descriptors[4 + index].revents != 0 { dropStandIn(client) }
            for (index, newcomer) in newcomers.enumerated() where descriptors[4 + clients.count + index].revents != 0 { identify(newcomer) }
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
        let isFromAlto = event.pid == agentPID || event.pid == getpid() || standIns.values.contains(event.pid)
        var record: StubRecord?
        if !isFromAlto {
            switch StubFile.inspect(descriptor: event.fd) {
            case .ordinary: break
            case .stub(let stub): record = stub
            case .forged:
                // The owner's own attribute on the owner's own file: its bytes are theirs to read, nothing else is.
                notice(event.fd, "a stub record in \(StubRecord.forgeableAttributeName), where the file's owner can write one; not followed")
                return answer(event.fd, error: 0, ignoreFurther: true)
            case .damaged(let problem):
                notice(event.fd, problem)
                return answer(event.fd, error: EIO, ignoreFurther: false)
            }
        }
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

    /// Logs a security notice and hands it to the agent, which reports it to the central suite.
    private func notice(_ descriptor: Int32, _ problem: String) {
        var info = stat()
        _ = fstat(descriptor, &info)
        let version = [Int(info.st_dev), Int(info.st_ino), info.st_ctim.tv_sec, info.st_ctim.tv_nsec]
        guard noticed.insert(version).inserted else { return }
        if noticed.count > Self.noticeLimit { noticed.removeAll() }
        let entry = GuardNotice(path: Self.path(of: descriptor), uid: info.st_uid, problem: problem)
        logger.warning("untrusted stub record", metadata: ["path": "\(entry.path)", "uid": "\(entry.uid)", "problem": "\(problem)"])
        if notices.count == Self.noticeLimit { notices.removeFirst() }
        notices.append(entry)
        sendNotices()
    }

    private func sendNotices() {
        guard agent >= 0 else { return }
        while let first = notices.first {
            guard let body = try? JSONEncoder().encode(first),
                  body.withUnsafeBytes({ alto_send_fd(agent, -1, $0.baseAddress, $0.count) }) == body.count else { return }
            notices.removeFirst()
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

    /// Takes a connection; what it is, it says in its first message, read once it arrives, so a silent client never
    /// holds up the answers to readers.
    private func acceptClient() {
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return }
        _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
        unidentified[connection] = Date().addingTimeInterval(5)
    }

    /// A client says first what it is (`GuardClientHello`): the agent, which gets the group and the requests, or
    /// a recall standing in for it, whose own opens are let through. A second agent is refused.
    private func identify(_ connection: Int32) {
        unidentified[connection] = nil
        var buffer = [UInt8](repeating: 0, count: 256)
        var passed: Int32 = -1
        let count = alto_receive_fd(connection, &passed, &buffer, buffer.count)
        if passed >= 0 { close(passed) }
        guard count > 0, let client = try? JSONDecoder().decode(GuardClientHello.self, from: Data(buffer[0..<count])) else {
            close(connection)
            return
        }
        let pid = alto_peer_pid(connection)
        let body = (try? JSONEncoder().encode(hello)) ?? Data("{}".utf8)
        switch client.role {
        case .recall:
            guard body.withUnsafeBytes({ alto_send_fd(connection, -1, $0.baseAddress, $0.count) }) == body.count else {
                close(connection)
                return
            }
            standIns[connection] = pid
            letThrough(pid)
        case .agent:
            guard agent < 0 else {
                logger.warning("a second agent tried to connect; refused", metadata: ["pid": "\(pid)"])
                close(connection)
                return
            }
            guard body.withUnsafeBytes({ alto_send_fd(connection, group, $0.baseAddress, $0.count) }) == body.count else {
                close(connection)
                return
            }
            agent = connection
            agentPID = pid
            logger.info("agent connected", metadata: ["pid": "\(agentPID)", "waiting": "\(waiting.count)"])
            letThrough(pid)
            for id in waiting.keys.sorted() { forward(id) }
            sendNotices()
        }
    }

    /// Lets through what `pid` itself was waiting for: its opens made while no guard knew it, which it would
    /// otherwise be asked to recall while it waits on them.
    private func letThrough(_ pid: Int32) {
        for (id, entry) in waiting where entry.event.pid == pid {
            waiting[id] = nil
            answer(entry.event.fd, error: 0, ignoreFurther: false)
        }
    }

    private func dropStandIn(_ connection: Int32) {
        standIns[connection] = nil
        close(connection)
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
        for (connection, deadline) in unidentified where deadline <= now {
            unidentified[connection] = nil
            close(connection)
        }
        for (id, entry) in waiting where !entry.forwarded && entry.deadline <= now {
            waiting[id] = nil
            logger.error("no agent to recall a stub; the read fails with EIO", metadata: ["path": "\(entry.path)"])
            answer(entry.event.fd, error: EIO, ignoreFurther: false)
        }
    }

    /// Answers an event and closes its descriptor. If no answer can be written, the descriptor is kept: closed, its
    /// number could be reused by a later event, and an answer meant for that one would reach this one.
    private func answer(_ descriptor: Int32, error: Int32, ignoreFurther: Bool) {
        if ignoreFurther { _ = alto_fanotify_ignore(group, descriptor) }
        guard alto_fanotify_respond(group, descriptor, error == 0 ? 1 : 0, error) == 0 || alto_fanotify_respond(group, descriptor, 0, EIO) == 0 else {
            logger.error("cannot answer a fanotify event; its descriptor is kept", metadata: ["error": "\(String(cString: strerror(errno)))"])
            return
        }
        close(descriptor)
    }

    private func shutDown() {
        for entry in waiting.values { answer(entry.event.fd, error: EIO, ignoreFurther: false) }
        waiting.removeAll()
        if agent >= 0 { close(agent) }
        for connection in Array(standIns.keys) + Array(unidentified.keys) { close(connection) }
        logger.info("stub guard stopped")
    }

    /// The path of an open file in the inventory's encoding, so a name that is not UTF-8 reaches the registry intact.
    static func path(of descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = buffer.withUnsafeMutableBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { readlink("/proc/self/fd/\(descriptor)", $0.baseAddress!, $0.count) }
        }
        return count > 0 ? PathEncoding.encode(Array(buffer[0..<count])) : "fd \(descriptor)"
    }
}
