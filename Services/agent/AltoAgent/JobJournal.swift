import AltoModels
import Foundation

/// Results of the jobs this agent finished, one file each in `ALTO_AGENT_STATE_DIR/jobs`, kept a week. A job that
/// arrives again (redelivered after a crash, or re-dispatched after the agent was silent) is answered from here
/// instead of being run again; one that is running is waited for, so a job never runs twice at once.
actor JobJournal {
    private let folder: String
    private var running: [UUID: [CheckedContinuation<Void, Never>]] = [:]

    init(folder: String) {
        self.folder = folder
        Self.prune(folder, olderThan: Date().addingTimeInterval(-7 * 86_400))
    }

    /// Claims `jobID` for running, waiting while another delivery of it runs; returns its recorded result instead
    /// when it already finished.
    func claim(_ jobID: UUID) async -> AgentResult? {
        while running[jobID] != nil {
            await withCheckedContinuation { running[jobID, default: []].append($0) }
        }
        if let finished = recorded(jobID) { return finished }
        running[jobID] = []
        return nil
    }

    /// Records the job's outcome (unless it was put back for later) and lets waiting deliveries go on.
    func finish(_ jobID: UUID, result: AgentResult?) {
        if let result, let body = try? AltoJSON.encoder().encode(result) {
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try? body.write(to: URL(fileURLWithPath: file(jobID)), options: .atomic)
        }
        for waiter in running.removeValue(forKey: jobID) ?? [] { waiter.resume() }
    }

    private func recorded(_ jobID: UUID) -> AgentResult? {
        (try? Data(contentsOf: URL(fileURLWithPath: file(jobID)))).flatMap { try? AltoJSON.decoder().decode(AgentResult.self, from: $0) }
    }

    private func file(_ jobID: UUID) -> String { folder + "/" + jobID.uuidString.lowercased() + ".json" }

    private static func prune(_ folder: String, olderThan cutoff: Date) {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        for name in files {
            let path = folder + "/" + name
            if let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date, modified < cutoff {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
    }
}
