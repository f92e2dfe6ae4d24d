import AltoAMQP
import AltoModels
import AltoRuntime
import AltoTiering
import Foundation
import Logging
import Metrics

/// Carries out what arrives on the agent's own queue (tiering and recall jobs, reconciliations, configuration) and reports each
/// outcome on `agent.results`.
struct AgentCommandHandler: Sendable {
    let settings: AgentSettings
    let configurationStore: AgentConfigurationStore
    let executor: TieringExecutor
    let coordinator: RecallCoordinator
    let journal: JobJournal
    let reporter: ResultReporter
    let reconciler: TargetReconciler
    let logger: Logger

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
        case .accepted(let header) where header.type == ReconcileTarget.messageType:
            return await HostMessage.handle(delivery, as: ReconcileTarget.self, logger: logger) { envelope, hostID, _ in
                try await forThisHost(envelope, hostID) {
                    try await reconciler.run(envelope.payload)
                    return .ack
                }
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

    /// Runs a job once: a delivery of a job that already finished is answered with its recorded result, one of a
    /// job that is running waits for it. A job put back because the tier was unavailable is not recorded, so its
    /// next dispatch runs it.
    private func tier(_ envelope: Envelope<TieringJob>, logger: Logger) async throws -> AMQPSettlement {
        let job = envelope.payload
        var logger = logger
        logger[metadataKey: "job"] = "\(job.jobID)"
        if let finished = await journal.claim(job.jobID) {
            logger.info("job already finished here; reporting its result again")
            reporter.report(finished, replyingTo: envelope.correlationID, id: ResultReporter.id(answering: job.jobID))
            return .ack
        }
        do {
            let result = try await executor.run(job, correlationID: envelope.correlationID)
            let deferred = result.files.contains { $0.outcome == .deferred }
            await journal.finish(job.jobID, result: deferred ? nil : result)
            logger.info("job finished", metadata: ["files": "\(result.files.count)", "deferred": "\(deferred)"])
            return .ack
        } catch {
            await journal.finish(job.jobID, result: nil)
            throw error
        }
    }

    private func recall(_ envelope: Envelope<RecallJob>, logger: Logger) async throws -> AMQPSettlement {
        var outcomes: [AgentResult.File] = []
        let paths = ConfinedPaths(roots: settings.managedRoots(configurationStore))
        for file in envelope.payload.files {
            outcomes.append(await coordinator.recall(path: file.filePath, fileID: file.fileID, within: paths))
        }
        reporter.report(AgentResult(jobID: envelope.payload.jobID, action: .recall, targetID: nil, files: outcomes),
                        replyingTo: envelope.correlationID,
                        id: ResultReporter.id(answering: envelope.payload.jobID, delivery: envelope.correlationID.uuidString))
        return .ack
    }
}
