import Foundation

/// Runs an ordinary program (`cat`, `mount`, `python3`) to completion, for tests that check what it printed.
public enum Command {
    public struct Outcome: Sendable {
        public var status: Int32
        public var output: Data
        public var errors: String
    }

    public static func run(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let bytes = output.fileHandleForReading.readDataToEndOfFile()
        let messages = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, output: bytes, errors: String(decoding: messages, as: UTF8.self))
    }
}
