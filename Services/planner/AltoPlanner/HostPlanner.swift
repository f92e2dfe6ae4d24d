import AltoAMQP
import AltoCentral
import AltoModels
import AltoPlanning
import AltoRuntime
import AltoStore
import Foundation
import Logging
import Metrics
import PostgresNIO

/// Plans one host per `planner.jobs` message: computes the plan (``HostPlanComputation``), writes its jobs
/// (``PlanWriter``) and a `plan_runs` row, all in one transaction that holds the host's advisory lock, so two
/// planner replicas never plan the same file: the second waits, then finds the first one's files in open jobs.
struct HostPlanner: Sendable {
    let postgres: PostgresClient
    let writer: PlanWriter
    let minimumFileBytes: Int64
    let logger: Logger
    private let plannedFiles = Counter(label: "alto_planner_files_planned_total")
    private let plannedJobs = Counter(label: "alto_planner_jobs_total")
    private let evaluatedFiles = Counter(label: "alto_planner_files_evaluated_total")
    private let planSeconds = Timer(label: "alto_planner_plan_duration_seconds")

    init(postgres: PostgresClient, maximumFilesPerJob: Int, minimumFileBytes: Int64, logger: Logger) {
        self.postgres = postgres
        self.writer = PlanWriter(maximumFilesPerJob: max(1, maximumFilesPerJob))
        self.minimumFileBytes = minimumFileBytes
        self.logger = logger
    }

    func handle(_ delivery: AMQPDelivery) async -> AMQPSettlement {
        await HostMessage.handle(delivery, as: PlannerTrigger.self, logger: logger,
                                 failure: MessageFailure.settlement) { envelope, hostID, logger in
            do {
                try await plan(envelope, hostID: hostID, logger: logger)
                return .ack
            } catch let problem as RuleProblem {
                return .deadLetter(reason: "a rule of this tenant cannot be evaluated: \(problem)")
            }
        }
    }

    private func plan(_ envelope: Envelope<PlannerTrigger>, hostID: UUID, logger: Logger) async throws {
        let started = ContinuousClock.now
        let trigger = envelope.payload
        try await postgres.withTenant(envelope.customerID, logger: logger) { connection in
            guard try await Outbox.markProcessed(consumer: "planner", messageID: envelope.id,
                                                     customerID: envelope.customerID, on: connection, logger: logger) else {
                return
            }
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(hostID.uuidString)))", logger: logger)
            // JIT compiling took a third of a second per statement of a plan, and the index-driven statements gain
            // nothing from it.
            try await connection.query("SET LOCAL jit = off", logger: logger)
            // The inventory read is bound by decoding and evaluating here, not by the scan: parallel workers only
            // took cores from that.
            try await connection.query("SET LOCAL max_parallel_workers_per_gather = 0", logger: logger)
            let computation = HostPlanComputation(
                customerID: envelope.customerID, hostID: hostID, minimumFileBytes: minimumFileBytes,
                caps: .init(maxFiles: trigger.maxFiles, maxBytes: trigger.maxBytes), keepsFileDetails: true)
            let result = try await computation.run(on: connection, logger: logger)
            let written = try await writer.write(result, trigger: envelope, hostID: hostID, on: connection, logger: logger)
            try await connection.query("""
                INSERT INTO plan_runs (id, customer_id, host_id, reason, finished_at, files_evaluated, files_planned,
                    bytes_planned, jobs)
                VALUES (\(envelope.id), \(envelope.customerID), \(hostID), \(trigger.reason.rawValue), now(),
                    \(result.filesEvaluated), \(written.files), \(written.bytes), \(written.jobs))
                """, logger: logger)
            try await connection.query("""
                UPDATE hosts SET last_planned_at = now() WHERE id = \(hostID) AND customer_id = \(envelope.customerID)
                """, logger: logger)
            evaluatedFiles.increment(by: result.filesEvaluated)
            plannedFiles.increment(by: written.files)
            plannedJobs.increment(by: written.jobs)
            if result.regexLimitsExceeded > 0 {
                logger.warning("a rule's regular expression gave up at its match limit; those paths are not tiered by it",
                               metadata: ["paths": "\(result.regexLimitsExceeded)"])
            }
            logger.info("host planned", metadata: [
                "reason": "\(trigger.reason.rawValue)", "evaluated": "\(result.filesEvaluated)", "files": "\(written.files)",
                "bytes": "\(written.bytes)", "jobs": "\(written.jobs)",
                "evaluation_seconds": "\(String(format: "%.2f", result.evaluationSeconds))",
                "file_seconds": "\(String(format: "%.2f", written.fileSeconds))",
                "envelope_seconds": "\(String(format: "%.2f", written.envelopeSeconds))",
                "seconds": "\(String(format: "%.2f", (ContinuousClock.now - started) / .seconds(1)))",
            ])
        }
        planSeconds.record(duration: ContinuousClock.now - started)
    }
}
