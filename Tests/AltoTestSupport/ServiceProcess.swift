import Foundation

/// One Alto executable started as its own process, as production runs it, with its output kept for diagnosis.
public final class ServiceProcess: @unchecked Sendable {
    public let name: String
    private let process = Process()
    private let logURL: URL

    /// Starts `.build/debug/<executable>` with `arguments` and the current environment plus `environment`.
    public init(_ executable: String, arguments: [String] = [], environment: [String: String], logFolder: URL) throws {
        name = executable
        logURL = logFolder.appendingPathComponent("\(executable)-\(UUID().uuidString.prefix(8)).log")
        guard FileManager.default.createFile(atPath: logURL.path, contents: nil) else {
            throw TestFailure("cannot create \(logURL.path)")
        }
        process.executableURL = Self.binary(executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let log = try FileHandle(forWritingTo: logURL)
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    public static func binary(_ executable: String) -> URL {
        TestServers.packageRoot.appendingPathComponent(".build/debug/\(executable)")
    }

    /// Runs an executable to completion and returns its exit status and output.
    public static func run(_ executable: String, arguments: [String], environment: [String: String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = binary(executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    public var log: String {
        (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
    }

    /// Kills the process with SIGKILL, as a crash or the OOM killer would, and waits until it is gone.
    public func crash() async {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// Sends SIGTERM and waits; returns the exit status, or nil when the process did not stop in time.
    public func terminate(within timeout: Duration = .seconds(15)) async -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        process.terminate()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                kill(process.processIdentifier, SIGKILL)
                return nil
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return process.terminationStatus
    }
}

#if canImport(Glibc)
import Glibc
#endif
