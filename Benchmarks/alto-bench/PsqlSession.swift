import Foundation

/// One `psql` kept open for a benchmark's polling. Starting a `psql`, and with it a server backend, every 20 ms
/// took half a core of a 2-core machine from the services being measured; one session asks the same question for
/// a few microseconds of the server's time.
final class PsqlSession {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let errors = Pipe()
    private var pending: [UInt8] = []
    private static let marker = "alto-bench-answered"

    init(_ database: Psql) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // Without ON_ERROR_STOP: a failed statement is reported on stderr, and the session answers the next one.
        process.arguments = ["psql", "-X", "-q", "-tA", database.url]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // The services started later must not hold these ends, or psql would never see the end of its input.
        for handle in [input.fileHandleForWriting, output.fileHandleForReading, errors.fileHandleForReading] {
            _ = fcntl(handle.fileDescriptor, F_SETFD, FD_CLOEXEC)
        }
        _ = fcntl(errors.fileHandleForReading.fileDescriptor, F_SETFL, O_NONBLOCK)
    }

    deinit {
        try? input.fileHandleForWriting.write(contentsOf: Data("\\q\n".utf8))
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    /// Runs one statement and returns its unaligned, tuples-only output; throws what psql reported if it failed.
    func run(_ sql: String) throws -> String {
        try input.fileHandleForWriting.write(contentsOf: Data("\(sql);\n\\echo \(Self.marker)\n".utf8))
        var lines: [String] = []
        while true {
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                guard line == Self.marker else {
                    lines.append(line)
                    continue
                }
                let reported = reportedErrors()
                guard !reported.contains("ERROR") else { throw BenchError("psql failed on \(sql): \(reported)") }
                return lines.joined(separator: "\n")
            }
            let data = output.fileHandleForReading.availableData
            guard !data.isEmpty else { throw BenchError("psql ended while answering \(sql): \(reportedErrors())") }
            pending.append(contentsOf: data)
        }
    }

    /// What psql wrote to stderr since it was last asked, without waiting for more.
    private func reportedErrors() -> String {
        var text: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(errors.fileHandleForReading.fileDescriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            text.append(contentsOf: buffer[..<count])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
