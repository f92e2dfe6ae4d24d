import Foundation
import Glibc
import Logging

/// Starts `alto-agent guard` for an agent that finds none listening, on hosts without the systemd units (the demo, a
/// manual start). The guard runs in a session of its own and logs to `guard.log` in the state folder, so it outlives
/// the agent however the agent ends; an agent that kept the last guard's fanotify group hands it over, so the new
/// guard keeps its marks and the reads waiting in it.
struct StubGuardLauncher: Sendable {
    let settings: AgentSettings
    let logger: Logger

    /// Starts a guard, handing it `group` when it is a descriptor; true when it started (this process's copy of the
    /// group is then closed; otherwise the caller keeps it).
    func start(handing group: Int32 = -1) -> Bool {
        try? FileManager.default.createDirectory(atPath: settings.stateFolder, withIntermediateDirectories: true)
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var environment = ProcessInfo.processInfo.environment
        environment[StubGuardKeeper.groupVariable] = group >= 0 ? "3" : nil
        let pid = Spawn.start(executable, ["alto-agent", "guard"], environment: environment, descriptors: group >= 0 ? [group] : [],
                              newSession: true, log: settings.stateFolder + "/guard.log")
        guard pid > 0 else {
            logger.error("cannot start the stub guard; no file is tiered until one runs", metadata: ["error": "\(String(cString: strerror(errno)))"])
            return false
        }
        if group >= 0 { close(group) }
        logger.info("stub guard started", metadata: ["pid": "\(pid)", "handed_group": "\(group >= 0)",
                                                     "log": "\(settings.stateFolder)/guard.log"])
        // Reaped here if it ends while this agent runs; the agent never waits on it.
        Thread.detachNewThread { var status: Int32 = 0; _ = waitpid(pid, &status, 0) }
        return true
    }
}
