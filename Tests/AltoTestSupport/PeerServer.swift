import Foundation
import Glibc

/// A real peer server started by a test on loopback (an S3-compatible server, Samba), stopped when the test is done.
public final class PeerServer: @unchecked Sendable {
    public let port: Int
    private let process: Process
    /// Kept open for the server's life: smbd in the foreground stops when its standard input ends.
    private let input = Pipe()

    /// Starts `arguments` (with `{port}` replaced by `port`, by default one the kernel picks) and waits until the port
    /// accepts connections.
    public init(_ arguments: [String], name: String, logFolder: URL, port: Int = PeerServer.freePort()) async throws {
        self.port = port
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments.map { $0.replacingOccurrences(of: "{port}", with: "\(port)") }
        try FileManager.default.createDirectory(at: logFolder, withIntermediateDirectories: true)
        let log = logFolder.appendingPathComponent("\(name).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardInput = input
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = ContinuousClock.now + .seconds(30)
        while !Self.accepts(port) {
            guard process.isRunning, ContinuousClock.now < deadline else {
                stop()
                throw TestFailure("\(name) did not start listening on \(port): \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// SIGINT (Python servers stop on it, not on SIGTERM), then SIGKILL if the server is still there after five
    /// seconds; the processes it forked for its connections (smbd's) are killed too, so the server is really gone.
    public func stop() {
        guard process.isRunning else { return }
        let children = Self.descendants(of: process.processIdentifier)
        process.interrupt()
        for _ in 0..<100 where process.isRunning { usleep(50_000) }
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        for child in children { Glibc.kill(child, SIGKILL) }
    }

    /// Kills the server and every process it forked at once, as a crash or a pulled cable would stop it.
    public func kill() {
        guard process.isRunning else { return }
        let pid = process.processIdentifier
        for victim in [pid] + Self.descendants(of: pid) { Glibc.kill(victim, SIGKILL) }
        while process.isRunning { usleep(10_000) }
    }

    private static func descendants(of pid: Int32) -> [Int32] {
        let listed = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        let children = listed.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return children + children.flatMap(descendants(of:))
    }

    deinit { stop() }

    /// Runs a Python snippet (boto3, azure-storage-blob: the independent clients) and returns its standard output.
    public static func python(_ script: String, environment: [String: String] = [:]) async throws -> String {
        let outcome = try await Command.run("python3", ["-c", script], environment: environment)
        guard outcome.status == 0 else { throw TestFailure("python failed: \(outcome.errors)") }
        return String(decoding: outcome.output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A loopback port the kernel has just found free (bound to port 0, read back, let go). A port picked at random
    /// from the ephemeral range could be one an outgoing connection holds, and the peer then fails to bind.
    public static func freePort() -> Int {
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(probe) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let found = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(probe, socketAddress, length) == 0 && getsockname(probe, socketAddress, &length) == 0
            }
        }
        precondition(found, "cannot bind a loopback socket to port 0: \(String(cString: strerror(errno)))")
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func accepts(_ port: Int) -> Bool {
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(probe) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
