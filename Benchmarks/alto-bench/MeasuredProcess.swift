import Foundation
import Glibc

/// A child process started with `posix_spawn` and reaped with `wait4`, so its wall time and its peak resident
/// memory (the kernel's own accounting) can be reported for it alone.
struct MeasuredProcess {
    let pid: pid_t
    let started: ContinuousClock.Instant

    struct Result {
        var status: Int32
        var seconds: Double
        var peakMiB: Double
    }

    /// Starts `executable` with the current environment plus `environment`; output goes to `output` (a file path,
    /// `/dev/null` by default).
    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], output: String = "/dev/null") throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let started = ContinuousClock.now
        let code = posix_spawnp(&pid, executable, &actions, nil, argv, envp)
        guard code == 0 else { throw BenchError("cannot start \(executable): \(String(cString: strerror(code)))") }
        self.pid = pid
        self.started = started
    }

    /// Runs to the end.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                    output: String = "/dev/null") throws -> Result {
        let result = try MeasuredProcess(executable, arguments, environment: environment, output: output).wait()
        guard result.status == 0 else {
            throw BenchError("\(executable) \(arguments.joined(separator: " ")) exited with \(result.status); see \(output)")
        }
        return result
    }

    /// The peak resident memory so far, for a process still running.
    var peakMiBSoFar: Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return 0 }
        return kib / 1024
    }

    /// Whether the process has not exited yet; it is not reaped, so `wait` still reports on it.
    var isRunning: Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: end)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    func terminate() -> Result {
        kill(pid, SIGTERM)
        return wait()
    }

    func wait() -> Result {
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        let exitStatus = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return Result(status: exitStatus, seconds: seconds, peakMiB: Double(usage.ru_maxrss) / 1024)
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
