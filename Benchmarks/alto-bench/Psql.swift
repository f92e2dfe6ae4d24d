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

    /// The same database reached as the services' own login (`ALTO_POSTGRES_URL`'s user), which is held by
    /// row-level security where this one, the schema's owner, is not.
    func asServices(environment: [String: String] = ProcessInfo.processInfo.environment) -> Psql {
        guard var components = URLComponents(string: url),
              let service = URLComponents(string: environment["ALTO_POSTGRES_URL"] ?? "postgres://alto_app:alto_app@127.0.0.1:55432/alto")
        else { return self }
        components.user = service.user
        components.password = service.password
        return Psql(url: components.string ?? url)
    }
}
