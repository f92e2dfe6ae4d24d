import Foundation
import Glibc

/// The Unix socket on which agents reach the stub guard: bound by the keeper, so it stays while guards restart, and
/// handed to each guard it starts.
enum GuardSocket {
    /// The environment variable naming the inherited listening socket's descriptor.
    static let listenerVariable = "ALTO_GUARD_LISTENER_FD"

    static func listen(at path: String) throws -> Int32 {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        unlink(path)
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw AgentError("socket: \(String(cString: strerror(errno)))") }
        var address = UnixSocketAddress(path: path)
        let previous = umask(0o077)
        defer { umask(previous) }
        guard address.withSockaddr({ bind(socket, $0, $1) }) == 0, Glibc.listen(socket, 16) == 0 else {
            close(socket)
            throw AgentError("cannot listen on \(path): \(String(cString: strerror(errno)))")
        }
        return socket
    }

    /// A descriptor number an environment variable names, when this process really holds it.
    static func inherited(_ variable: String) -> Int32? {
        guard let text = ProcessInfo.processInfo.environment[variable], let descriptor = Int32(text),
              fcntl(descriptor, F_GETFD) >= 0 else { return nil }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        return descriptor
    }
}
