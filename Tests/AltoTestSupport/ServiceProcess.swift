import Foundation
import FoundationNetworking
import Synchronization

/// One Alto executable started as its own process, as production runs it, with its output kept for diagnosis.
///
/// A service listens on a port the kernel picks (`ALTO_HTTP_PORT=0`) and says which in `ALTO_HTTP_PORT_FILE`, so
/// no two tests ever race for a port. Waiting for it fails at once, with its exit status and the end of its log,
/// when it exits instead of coming up, and with its log when it is not healthy in time.
public final class ServiceProcess: @unchecked Sendable {
    public let name: String
    private let process: Process
    /// The process id, for reading what the kernel says about it (`/proc/<pid>/status`).
    public var pid: Int32 { process.processIdentifier }
    private let logURL: URL
    private let portFile: URL
    /// Set once the test ended the process on purpose (`crash`, `terminate`), so `RunningSuite` does not count
    /// its end as a failure.
    private let settled = Atomic<Bool>(false)
    private let listening = Mutex<Int?>(nil)

    /// How long a service may take to listen and answer `/healthz` on a busy machine; one that exits fails at once.
    public static let startTimeout: Duration = .seconds(90)

    /// Starts `.build/debug/<executable>` with `arguments` and the current environment plus `environment`, through
    /// `launcher` when one is given (a program and its arguments that end by running what follows them, as
    /// `setpriv … --` does).
    public init(_ executable: String, arguments: [String] = [], environment: [String: String], logFolder: URL,
                launcher: [String] = []) throws {
        name = executable
        let id = UUID().uuidString.prefix(8)
        logURL = logFolder.appendingPathComponent("\(executable)-\(id).log")
        portFile = logFolder.appendingPathComponent("\(executable)-\(id).port")
        guard FileManager.default.createFile(atPath: logURL.path, contents: nil) else {
            throw TestFailure("cannot create \(logURL.path)")
        }
        let process = Process()
        if let program = launcher.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(launcher.dropFirst()) + [Self.binary(executable).path] + arguments
        } else {
            process.executableURL = Self.binary(executable)
            process.arguments = arguments
        }
        // An empty value takes a variable away, even one the test process inherited.
        process.environment = ProcessInfo.processInfo.environment
            .merging(["ALTO_HTTP_PORT": "0"]) { _, new in new }
            .merging(environment) { _, new in new }
            .merging(["ALTO_HTTP_PORT_FILE": portFile.path]) { _, new in new }
            .filter { !$0.value.isEmpty }
        let log = try FileHandle(forWritingTo: logURL)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process
    }

    public static func binary(_ executable: String) -> URL {
        TestServers.packageRoot.appendingPathComponent(".build/debug/\(executable)")
    }

    /// Runs an executable to completion (killed after `timeout`) and returns its exit status and output, standard
    /// output first.
    public static func run(_ executable: String, arguments: [String], environment: [String: String],
                           timeout: Duration = .seconds(300)) async throws -> (Int32, String) {
        let outcome = try await Command.run(binary(executable).path, arguments, environment: environment, timeout: timeout)
        return (outcome.status, String(decoding: outcome.output, as: UTF8.self) + outcome.errors)
    }

    public var log: String {
        (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
    }

    /// The end of the log, enough to show why a service failed without drowning the report.
    public var logTail: String {
        let log = log
        return log.count > 6000 ? "…" + log.suffix(6000) : log
    }

    public var isRunning: Bool { process.isRunning }

    public var processIdentifier: Int32 { process.processIdentifier }

    /// The exit status once the process has ended.
    public var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    /// Whether the test ended the process itself.
    public var isSettled: Bool { settled.load(ordering: .relaxed) }

    /// The port the service listens on, once `waitUntilHealthy` has seen it.
    public var port: Int {
        get throws {
            guard let port = listening.withLock({ $0 }) else { throw TestFailure("\(name) has not said which port it listens on") }
            return port
        }
    }

    /// Waits until the service says which port it listens on and answers `/healthz` with 200, and returns the port.
    @discardableResult
    public func waitUntilHealthy(timeout: Duration = ServiceProcess.startTimeout) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        let port = try await waitUntilListening(timeout: timeout)
        // One deadline for both: listening, then healthy.
        while ContinuousClock.now < deadline {
            try exitedDuringStartUp()
            if await Self.isHealthy(port: port) { return port }
            try await Task.sleep(for: .milliseconds(100))
        }
        try exitedDuringStartUp()
        throw TestFailure("\(name) was not healthy within \(timeout) on port \(port); its log:\n\(logTail)")
    }

    /// Waits until the service says which port it listens on, and returns it: for a server `/healthz` cannot be
    /// asked of over plain HTTP (one serving TLS).
    @discardableResult
    public func waitUntilListening(timeout: Duration = ServiceProcess.startTimeout) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            try exitedDuringStartUp()
            if let port = listening.withLock({ $0 }) ?? (try? readPortFile()) {
                listening.withLock { $0 = port }
                return port
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        try exitedDuringStartUp()
        throw TestFailure("\(name) did not listen within \(timeout); its log:\n\(logTail)")
    }

    private func exitedDuringStartUp() throws {
        guard let status = exitStatus else { return }
        throw TestFailure("\(name) exited with status \(status) while starting; its log:\n\(logTail)")
    }

    private func readPortFile() throws -> Int {
        let text = try String(contentsOf: portFile, encoding: .utf8)
        guard let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw TestFailure("bad port file") }
        return port
    }

    private static func isHealthy(port: Int) async -> Bool {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/healthz")!)
        request.timeoutInterval = 5
        let response = try? await URLSession.shared.data(for: request).1
        return (response as? HTTPURLResponse)?.statusCode == 200
    }

    /// Kills the process with SIGKILL, as a crash or the OOM killer would, and waits until it is gone.
    public func crash() async {
        settled.store(true, ordering: .relaxed)
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// SIGKILL without waiting, for a process nobody will look at again, and for the children it started (the stub
    /// guard's keeper would otherwise leave its guard behind).
    func kill() {
        guard process.isRunning else { return }
        for child in Self.children(of: process.processIdentifier) { Glibc.kill(child, SIGKILL) }
        Glibc.kill(process.processIdentifier, SIGKILL)
    }

    /// The living children of a process, from /proc.
    public static func children(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            // The state and the parent are the first fields of /proc/<pid>/stat after the name in parentheses.
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let end = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == parent && fields[0] != "Z"
        }
    }

    /// Sends SIGTERM and waits; returns the exit status, or nil when the process did not stop in time (it is then
    /// killed). The caller checks the status.
    @discardableResult
    public func terminate(within timeout: Duration = ServiceProcess.stopTimeout) async -> Int32? {
        settled.store(true, ordering: .relaxed)
        return await stop(within: timeout)
    }

    /// How long a service may take to stop on SIGTERM before it is killed and its test fails.
    public static let stopTimeout: Duration = .seconds(45)

    /// SIGTERM, then SIGKILL after `timeout`: the exit status, or nil when it had to be killed.
    func stop(within timeout: Duration = ServiceProcess.stopTimeout) async -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        process.terminate()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                Glibc.kill(process.processIdentifier, SIGKILL)
                while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
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
