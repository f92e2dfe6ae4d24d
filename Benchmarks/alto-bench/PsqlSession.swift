import Foundation

/// One `psql` kept open for a benchmark's polling. Starting a `psql`, and with it a server backend, every 20 ms
/// took half a core of a 2-core machine from the services being measured; one session asks the same question for
/// a few microseconds of the server's time.
final class PsqlSession {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var pending: [UInt8] = []
    private static let marker = "alto-bench-answered"

    init(_ database: Psql) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", database.url]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    deinit {
        // Asked to quit, not sent an end of input: the services started since hold a copy of the pipe's writing end.
        try? input.fileHandleForWriting.write(contentsOf: Data("\\q\n".utf8))
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    /// Runs one statement and returns its unaligned, tuples-only output; an error ends the session.
    func run(_ sql: String) throws -> String {
        try input.fileHandleForWriting.write(contentsOf: Data("\(sql);\n\\echo \(Self.marker)\n".utf8))
        var lines: [String] = []
        while true {
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if line == Self.marker { return lines.joined(separator: "\n") }
                lines.append(line)
            }
            let data = output.fileHandleForReading.availableData
            guard !data.isEmpty else {
                throw BenchError("psql ended while answering \(sql): \((lines + [String(decoding: pending, as: UTF8.self)]).joined(separator: " "))")
            }
            pending.append(contentsOf: data)
        }
    }
}
