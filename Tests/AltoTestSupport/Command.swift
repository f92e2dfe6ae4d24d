import Foundation
import Synchronization

/// Runs an ordinary program (`cat`, `mount`, `python3`) to completion, for tests that check what it printed.
public enum Command {
    public struct Outcome: Sendable {
        public var status: Int32
        public var output: Data
        public var errors: String
    }

    /// - Parameter timeout: how long the program may run before it is killed and the run fails.
    public static func run(_ program: String, _ arguments: [String], environment: [String: String] = [:],
                           timeout: Duration = .seconds(300)) async throws -> Outcome {
        try await OffPool.run { try runBlocking(program, arguments, environment: environment, timeout: timeout) }
    }

    /// `run`, waiting on the calling thread: only for the few places that cannot wait otherwise (a `defer`).
    public static func runBlocking(_ program: String, _ arguments: [String], environment: [String: String] = [:],
                                   timeout: Duration = .seconds(300)) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let watchdog = Watchdog(process, after: timeout)
        defer { watchdog.cancel() }
        // Both pipes are drained at once: a program that fills one while the other is read would never end.
        let messages = Mutex(Data())
        let drained = DispatchSemaphore(value: 0)
        Thread {
            let all = errors.fileHandleForReading.readDataToEndOfFile()
            messages.withLock { $0 = all }
            drained.signal()
        }.start()
        let bytes = output.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        guard !watchdog.fired else {
            throw TestFailure("\(program) \(arguments.joined(separator: " ")) ran longer than \(timeout) and was killed")
        }
        return Outcome(status: process.terminationStatus, output: bytes, errors: String(decoding: messages.withLock { $0 }, as: UTF8.self))
    }
}
