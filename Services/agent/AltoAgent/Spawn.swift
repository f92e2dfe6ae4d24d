import CAltoLinux
import Glibc

/// Starts programs with exactly the descriptors they are meant to inherit, which `Foundation.Process` cannot do:
/// the stub guard hands its fanotify group and socket on this way.
enum Spawn {
    /// Starts `executable` with `descriptors` as 3, 4, …; returns its process id, or -1 with errno set.
    static func start(_ executable: String, _ arguments: [String], environment: [String: String], descriptors: [Int32] = [],
                      newSession: Bool = false, log: String? = nil) -> Int32 {
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        return descriptors.withUnsafeBufferPointer { fds in
            alto_spawn(executable, argv, envp, fds.baseAddress, Int32(fds.count), newSession ? 1 : 0, log)
        }
    }

    /// A wait status as a person reads it: "exit 3", "signal 9".
    static func describe(_ status: Int32) -> String {
        (status & 0x7f) == 0 ? "exit \((status >> 8) & 0xff)" : "signal \(status & 0x7f)"
    }
}
