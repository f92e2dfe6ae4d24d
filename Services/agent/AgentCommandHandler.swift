import AltoAMQP
import AltoModels
import AltoService
import AltoTiering
import Foundation
import Logging
import Metrics

/// Carries out the commands on the agent's own queue and reports each outcome on `agent.results`.
struct AgentCommandHandler: Sendable {
    let settings: AgentSettings
    let publisher: AMQPPublisher
    let logger: Logger
    private let filesTiered = Counter(label: "alto_agent_files_total", dimensions: [("outcome", "tiered")])

    init(settings: AgentSettings, publisher: AMQPPublisher, logger: Logger) {
        self.settings = settings
        self.publisher = publisher
        self.logger = logger
    }

    func handle(_ delivery: AMQPDelivery) async -> AMQPSettlement {
        await HostMessage.handle(delivery, as: TieringJob.self, logger: logger) { envelope, hostID, logger in
            guard envelope.customerID == settings.customerID, hostID == settings.hostID else {
                return .deadLetter(reason: "the command is for another tenant or host")
            }
            let job = envelope.payload
            var logger = logger
            logger[metadataKey: "job"] = "\(job.jobID)"
            guard job.target.kind == .filesystem else {
                return .deadLetter(reason: "target kind \(job.target.kind.rawValue) is not supported by this agent yet")
            }
            let tier = FilesystemTier(root: job.target.location)
            var outcomes: [AgentResult.File] = []
            for file in job.files {
                let outcome = tier.tier(file, customerID: settings.customerID, hostID: settings.hostID, targetID: job.target.id)
                if outcome.outcome == .tiered { filesTiered.increment() }
                logger.info("file \(outcome.outcome.rawValue)", metadata: ["path": "\(file.filePath)", "reason": "\(outcome.reason ?? "")"])
                outcomes.append(outcome)
            }
            let result = envelope.reply(AgentResult(jobID: job.jobID, action: .tier, targetID: job.target.id, files: outcomes))
            try await publisher.publish(AMQPMessage(body: try result.encoded(), messageID: result.id.uuidString.lowercased()),
                                        routingKey: AMQPTopology.agentResults)
            return .ack
        }
    }
}
