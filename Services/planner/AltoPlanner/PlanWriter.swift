import AltoAMQP
import AltoModels
import AltoPlanning
import AltoStore
import Foundation
import Logging
import PostgresNIO

/// Turns what a plan took into jobs: per rule (so per target and priority) chunks of at most `maximumFilesPerJob`
/// files, each stored with its files and its `tiering.jobs` envelope in the plan's transaction, so a crash neither
/// loses a job nor publishes one twice (the outbox relay publishes it after the commit). The writes are set-based,
/// a few statements per plan however many jobs it makes: the jobs with their totals in one, then per
/// `filesPerStatement` files their files in one and their envelopes in one. Everything the jobs carry comes from
/// the plan's own read of the inventory (``PlanFileDetails``), in the same transaction; the job files' trigger checks
/// that each file is the host's. A file the inventory no longer holds fails the plan rather than being left out,
/// which cannot happen while a plan runs: the services never delete inventory rows, nor move them to another host.
struct PlanWriter: Sendable {
    let maximumFilesPerJob: Int
    /// Bounds what one statement binds, so a plan of millions of files is written in pieces.
    var filesPerStatement = 250_000

    struct Written {
        var jobs = 0
        var files = 0
        var bytes: Int64 = 0
        /// Time spent storing job files (while the envelopes are encoded), and then waiting for the envelopes and
        /// storing them.
        var fileSeconds = 0.0
        var envelopeSeconds = 0.0
    }

    /// A job before it is written: its rule, its target and its files, coldest first.
    private struct Draft {
        var id = UUID()
        var rule: TieringRule
        var target: PlanTarget
        var candidates: ArraySlice<PlanCandidate>
        var bytes: Int64

        init(rule: TieringRule, target: PlanTarget, candidates: ArraySlice<PlanCandidate>) {
            self.rule = rule
            self.target = target
            self.candidates = candidates
            self.bytes = candidates.reduce(0) { $0 + $1.size }
        }

        func job(_ details: PlanFileDetails) -> TieringJob {
            TieringJob(jobID: id, ruleID: rule.id, priority: rule.priority, files: candidates.map(details.file),
                       estimatedSpaceSaved: bytes, estimatedDurationSeconds: target.transferSeconds(bytes),
                       bandwidthBytesPerSecond: target.bandwidthLimit, target: target.reference)
        }
    }

    /// Throws ``DetailsMissing`` unless `result` kept its files' details (``HostPlanComputation/keepsFileDetails``).
    func write(_ result: HostPlanComputation.Result, trigger: Envelope<PlannerTrigger>, hostID: UUID,
               on connection: PostgresConnection, logger: Logger) async throws -> Written {
        var drafts: [Draft] = []
        for outcome in result.outcomes where !outcome.taken.candidates.isEmpty {
            guard let target = result.targets[outcome.rule.targetID] else {
                logger.warning("rule's target is gone; its files wait", metadata: ["rule": "\(outcome.rule.id)"])
                continue
            }
            let candidates = outcome.taken.candidates
            guard candidates.allSatisfy({ $0.detail >= 0 }) else { throw DetailsMissing() }
            for start in stride(from: 0, to: candidates.count, by: maximumFilesPerJob) {
                drafts.append(Draft(rule: outcome.rule, target: target,
                                    candidates: candidates[start..<min(start + maximumFilesPerJob, candidates.count)]))
            }
        }
        guard !drafts.isEmpty else { return Written() }
        // While the plan writes, the files a statement binds and the rows its trigger checks are held in memory,
        // not spilled to disk, and the statements are planned as generic plans, since a custom one copies the bound
        // arrays, megabytes of paths and envelopes, into the plan.
        try await connection.query("SET LOCAL work_mem = '256MB'", logger: logger)
        try await connection.query("SET LOCAL plan_cache_mode = force_generic_plan", logger: logger)
        try await insertJobs(drafts, trigger: trigger, hostID: hostID, on: connection, logger: logger)
        var written = Written()
        var start = 0
        while start < drafts.count {
            var end = start
            var files = 0
            while end < drafts.count, files == 0 || files + drafts[end].candidates.count <= filesPerStatement {
                files += drafts[end].candidates.count
                end += 1
            }
            let jobs = drafts[start..<end].map { $0.job(result.details) }
            let started = ContinuousClock.now
            // The envelopes are encoded here while PostgreSQL stores the files.
            async let messages = jobs.map { try Outbox.Message(trigger.reply($0)) }
            try await insertFiles(of: jobs, customerID: trigger.customerID, on: connection, logger: logger)
            let stored = ContinuousClock.now
            try await Outbox.enqueue(try await messages, queue: AMQPTopology.tieringJobs, on: connection, logger: logger)
            written.fileSeconds += (stored - started) / .seconds(1)
            written.envelopeSeconds += (ContinuousClock.now - stored) / .seconds(1)
            for job in jobs {
                written.jobs += 1
                written.files += job.files.count
                written.bytes += job.estimatedSpaceSaved
            }
            start = end
        }
        try await connection.query("SET LOCAL work_mem TO DEFAULT", logger: logger)
        try await connection.query("SET LOCAL plan_cache_mode TO DEFAULT", logger: logger)
        return written
    }

    /// Every job of the plan, with its totals.
    private func insertJobs(_ drafts: [Draft], trigger: Envelope<PlannerTrigger>, hostID: UUID, on connection: PostgresConnection,
                            logger: Logger) async throws {
        try await connection.query("""
            INSERT INTO tiering_jobs (id, customer_id, host_id, rule_id, rule_version, target_id, priority, file_count,
                total_bytes, estimated_space_saved, estimated_duration_seconds, bandwidth_bytes_per_second, plan_id)
            SELECT id, \(trigger.customerID), \(hostID), rule_id, rule_version, target_id, priority, files, bytes, bytes,
                seconds, bandwidth, \(trigger.id)
            FROM unnest(\(drafts.map(\.id)), \(drafts.map(\.rule.id)), \(drafts.map(\.rule.version)), \(drafts.map(\.target.reference.id)),
                        \(drafts.map(\.rule.priority)), \(drafts.map(\.candidates.count)), \(drafts.map(\.bytes)),
                        \(drafts.map { $0.target.transferSeconds($0.bytes) }), \(drafts.map(\.target.bandwidthBytesPerSecond)))
                AS draft (id, rule_id, rule_version, target_id, priority, files, bytes, seconds, bandwidth)
            """, logger: logger)
    }

    /// The plan was computed without its files' details (``HostPlanComputation/keepsFileDetails``).
    struct DetailsMissing: Error {}

    /// Stores the jobs' files in one statement.
    private func insertFiles(of jobs: [TieringJob], customerID: UUID, on connection: PostgresConnection,
                             logger: Logger) async throws {
        var jobIDs: [UUID] = []
        var fileIDs: [Int64] = []
        var paths: [String] = []
        var sizes: [Int64] = []
        for job in jobs {
            for file in job.files {
                jobIDs.append(job.jobID)
                fileIDs.append(file.fileID)
                paths.append(file.filePath)
                sizes.append(file.fileSize)
            }
        }
        try await connection.query("""
            INSERT INTO tiering_job_files (job_id, file_id, customer_id, file_path, file_size)
            SELECT job_id, file_id, \(customerID), file_path, file_size
            FROM unnest(\(jobIDs), \(fileIDs), \(paths), \(sizes)) AS file (job_id, file_id, file_path, file_size)
            """, logger: logger)
    }
}
