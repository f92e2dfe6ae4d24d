import Foundation
import Glibc
import Logging

/// Starts `alto-agent guard` beside an agent that finds none listening, for hosts without the systemd units
/// (the demo, a manual start). The guard is its own process so that it outlives the agent: it is not stopped with it.
struct StubGuardLauncher {
    let settings: AgentSettings
    let logger: Logger

    func startUnlessRunning() {
        guard !Self.isListening(at: settings.guardSocket) else { return }
        let guardProcess = Process()
        guardProcess.executableURL = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                                         ?? CommandLine.arguments[0])
        guardProcess.arguments = ["guard"]
        do {
            try guardProcess.run()
            logger.info("stub guard started", metadata: ["pid": "\(guardProcess.processIdentifier)"])
        } catch {
            logger.error("cannot start the stub guard; stubs are recalled only on request", metadata: ["error": "\(error)"])
        }
    }

    /// True when a guard answers on `path`.
    static func isListening(at path: String) -> Bool {
        guard let probe = UnixSocketAddress.connect(to: path) else { return false }
        close(probe)
        return true
    }
}
