import AltoAMQP
import AltoModels
import AltoService
import AltoTiering
import Foundation
import Logging
import Metrics

/// Carries out what arrives on the agent's own queue (tiering and recall jobs, configuration) and reports each
/// outcome on `agent.results`.
struct AgentCommandHandler: Sendable {
    let settings: AgentSettings
    let publisher: AMQPPublisher
    let configurationStore: AgentConfigurationStore
    let logger: Logger
    private let filesTiered = Counter(label: "alto_agent_files_total", dimensions: [("outcome", "tiered")])
    private let filesRecalled = Counter(label: "alto_agent_files_total", dimensions: [("outcome", "recalled")])

    init(settings: AgentSettings, publisher: AMQPPublisher, configurationStore: AgentConfigurationStore, logger: Logger) {
        self.settings = settings
        self.publisher = publisher
        self.configurationStore = configurationStore
        self.logger = logger
    }

    func handle(_ delivery: AMQPDelivery) async -> AMQPSettlement {
        switch EnvelopeReader.header(of: delivery.message.body) {
        case .refused(let reason):
            return .deadLetter(reason: reason)
        case .accepted(let header) where header.type == TieringJob.messageType:
            return await HostMessage.handle(delivery, as: TieringJob.self, logger: logger) { envelope, hostID, logger in
                try await forThisHost(envelope, hostID) { try await tier(envelope, logger: logger) }
            }
        case .accepted(let header) where header.type == RecallJob.messageType:
            return await HostMessage.handle(delivery, as: RecallJob.self, logger: logger) { envelope, hostID, logger in
                try await forThisHost(envelope, hostID) { try await recall(envelope, logger: logger) }
            }
        case .accepted(let header) where header.type == AgentConfiguration.messageType:
            return await HostMessage.handle(delivery, as: AgentConfiguration.self, logger: logger) { envelope, hostID, logger in
                try await forThisHost(envelope, hostID) {
                    let applied = try configurationStore.save(envelope.payload)
                    logger.info(applied ? "configuration applied" : "older configuration ignored",
                                metadata: ["revision": "\(envelope.payload.revision)"])
                    return .ack
                }
            }
        case .accepted(let header):
            return .deadLetter(reason: "unexpected message type \(header.type) on an agent queue")
        }
    }

    /// A command for another tenant or host never runs here, whoever put it on this queue.
    private func forThisHost<Payload>(_ envelope: Envelope<Payload>, _ hostID: UUID,
                                      _ body: () async throws -> AMQPSettlement) async throws -> AMQPSettlement {
        guard envelope.customerID == settings.customerID, hostID == settings.hostID else {
            return .deadLetter(reason: "the command is for another tenant or host")
        }
        return try await body()
    }

    private func tier(_ envelope: Envelope<TieringJob>, logger: Logger) async throws -> AMQPSettlement {
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
        try await report(envelope.reply(AgentResult(jobID: job.jobID, action: .tier, targetID: job.target.id, files: outcomes)))
        return .ack
    }

    private func recall(_ envelope: Envelope<RecallJob>, logger: Logger) async throws -> AMQPSettlement {
        var logger = logger
        logger[metadataKey: "job"] = "\(envelope.payload.jobID)"
        let outcomes = envelope.payload.files.map(StubRecall.recall)
        for outcome in outcomes {
            if outcome.outcome == .recalled { filesRecalled.increment() }
            logger.info("file \(outcome.outcome.rawValue)", metadata: ["path": "\(outcome.filePath)", "reason": "\(outcome.reason ?? "")"])
        }
        try await report(envelope.reply(AgentResult(jobID: envelope.payload.jobID, action: .recall, targetID: nil, files: outcomes)))
        return .ack
    }

    private func report(_ result: Envelope<AgentResult>) async throws {
        try await publisher.publish(AMQPMessage(body: try result.encoded(), messageID: result.id.uuidString.lowercased()),
                                    routingKey: AMQPTopology.agentResults)
    }
}
