import Foundation

/// Runs `psql` against one database: the benchmark's own set-up and polling, and the expert's baseline, which
/// is `psql` by definition.
struct Psql {
    let url: String

    /// Runs SQL and returns its unaligned, tuples-only output.
    @discardableResult
    func run(_ sql: String) throws -> String {
        try Self.capture(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", url, "-c", sql])
    }

    static func capture(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0 else { throw BenchError("\(arguments.prefix(3).joined(separator: " ")) failed: \(text)") }
        return text
    }

    /// The same server with another database.
    func database(_ name: String) -> Psql {
        guard var components = URLComponents(string: url) else { return self }
        components.path = "/" + name
        return Psql(url: components.string ?? url)
    }
}
