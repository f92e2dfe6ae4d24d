import AltoAMQP
import AltoModels
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
        let envelope: Envelope<TieringJob>
        switch EnvelopeReader.read(TieringJob.self, from: delivery.message.body) {
        case .refused(let reason): return .deadLetter(reason: reason)
        case .accepted(let accepted): envelope = accepted
        }
        guard envelope.customerID == settings.customerID, envelope.hostID == settings.hostID else {
            return .deadLetter(reason: "the command is for another tenant or host")
        }
        let job = envelope.payload
        var logger = self.logger
        logger[metadataKey: "tenant"] = "\(envelope.customerID)"
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
        do {
            try await publisher.publish(AMQPMessage(body: try result.encoded(), messageID: result.id.uuidString.lowercased()),
                                        routingKey: AMQPTopology.agentResults)
            return .ack
        } catch {
            logger.error("cannot report the job's result, will retry", metadata: ["error": "\(error)"])
            return .retry
        }
    }
}
