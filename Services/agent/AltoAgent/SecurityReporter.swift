import AltoModels
import Foundation
import Logging
import Metrics

/// Reports what may be a user turning the agent against its host (a stub record its owner could have forged, one
/// that makes no sense, a copy outside its target): counted in `alto_agent_security_events_total`, logged, and sent to
/// the central suite, which keeps it in the tenant's audit trail.
struct SecurityReporter: Sendable {
    let reporter: ResultReporter
    let logger: Logger
    private let events = Counter(label: "alto_agent_security_events_total")

    init(reporter: ResultReporter, logger: Logger) {
        self.reporter = reporter
        self.logger = logger
    }

    func report(path: String, problem: String, uid: UInt32? = nil) {
        events.increment()
        logger.warning("security event", metadata: ["path": "\(path)", "problem": "\(problem)", "uid": "\(uid.map(String.init) ?? "")"])
        let reason = uid.map { "\(problem) (file owned by uid \($0))" } ?? problem
        reporter.report(AgentResult(jobID: nil, action: .security, targetID: nil,
                                          files: [AgentResult.File(fileID: nil, filePath: path, outcome: .failed, reason: reason, size: 0)]))
    }
}
