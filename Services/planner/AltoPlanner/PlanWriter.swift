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
/// a few statements per plan however many jobs it makes: the jobs in one, their files in one per
/// `filesPerStatement` (which also reads back what the envelopes carry), their envelopes in one per such group,
/// and their totals in one.
struct PlanWriter: Sendable {
    let maximumFilesPerJob: Int
    /// Bounds what one statement binds and returns, so a plan of millions of files is written in pieces.
    var filesPerStatement = 100_000

    struct Written {
        var jobs = 0
        var files = 0
        var bytes: Int64 = 0
        /// Time spent storing job files and reading them back, and encoding and storing the envelopes.
        var fileSeconds = 0.0
        var envelopeSeconds = 0.0
    }

    /// A job before it is written: its rule, its target and the inventory ids of its files, coldest first.
    private struct Draft {
        var id = UUID()
        var rule: TieringRule
        var target: PlanTarget
        var fileIDs: ArraySlice<Int64>
    }

    func write(_ result: HostPlanComputation.Result, trigger: Envelope<PlannerTrigger>, hostID: UUID,
               on connection: PostgresConnection, logger: Logger) async throws -> Written {
        var drafts: [Draft] = []
        for outcome in result.outcomes where !outcome.taken.candidates.isEmpty {
            guard let target = result.targets[outcome.rule.targetID] else {
                logger.warning("rule's target is gone; its files wait", metadata: ["rule": "\(outcome.rule.id)"])
                continue
            }
            let fileIDs = outcome.taken.candidates.map(\.fileID)
            for start in stride(from: 0, to: fileIDs.count, by: maximumFilesPerJob) {
                drafts.append(Draft(rule: outcome.rule, target: target,
                                    fileIDs: fileIDs[start..<min(start + maximumFilesPerJob, fileIDs.count)]))
            }
        }
        guard !drafts.isEmpty else { return Written() }
        // The files of a statement are sorted back into the plan's order in memory, not on disk.
        try await connection.query("SET LOCAL work_mem = '64MB'", logger: logger)
        try await insertJobs(drafts, trigger: trigger, hostID: hostID, on: connection, logger: logger)
        var written = Written()
        var totals: [(id: UUID, files: Int, bytes: Int64, seconds: Double)] = []
        var group = 0..<0
        while group.upperBound < drafts.count {
            var end = group.upperBound
            var files = 0
            while end < drafts.count, files == 0 || files + drafts[end].fileIDs.count <= filesPerStatement {
                files += drafts[end].fileIDs.count
                end += 1
            }
            group = group.upperBound..<end
            let started = ContinuousClock.now
            let jobs = try await writeFiles(of: drafts, group, customerID: trigger.customerID, hostID: hostID,
                                            on: connection, logger: logger)
            let stored = ContinuousClock.now
            try await Outbox.enqueue(jobs.map { trigger.reply($0) }, queue: AMQPTopology.tieringJobs, on: connection, logger: logger)
            written.fileSeconds += (stored - started) / .seconds(1)
            written.envelopeSeconds += (ContinuousClock.now - stored) / .seconds(1)
            for job in jobs {
                totals.append((job.jobID, job.files.count, job.estimatedSpaceSaved, job.estimatedDurationSeconds))
                written.jobs += 1
                written.files += job.files.count
                written.bytes += job.estimatedSpaceSaved
            }
        }
        try await connection.query("""
            UPDATE tiering_jobs AS job SET file_count = total.files, total_bytes = total.bytes, estimated_space_saved = total.bytes,
                estimated_duration_seconds = total.seconds
            FROM unnest(\(totals.map(\.id)), \(totals.map(\.files)), \(totals.map(\.bytes)), \(totals.map(\.seconds)))
                AS total (id, files, bytes, seconds)
            WHERE job.id = total.id AND job.customer_id = \(trigger.customerID)
            """, logger: logger)
        return written
    }

    /// Every job of the plan, with no files counted yet.
    private func insertJobs(_ drafts: [Draft], trigger: Envelope<PlannerTrigger>, hostID: UUID, on connection: PostgresConnection,
                            logger: Logger) async throws {
        try await connection.query("""
            INSERT INTO tiering_jobs (id, customer_id, host_id, rule_id, rule_version, target_id, priority, file_count,
                total_bytes, estimated_space_saved, estimated_duration_seconds, bandwidth_bytes_per_second, plan_id)
            SELECT id, \(trigger.customerID), \(hostID), rule_id, rule_version, target_id, priority, 0, 0, 0, 0, bandwidth, \(trigger.id)
            FROM unnest(\(drafts.map(\.id)), \(drafts.map(\.rule.id)), \(drafts.map(\.rule.version)), \(drafts.map(\.target.reference.id)),
                        \(drafts.map(\.rule.priority)), \(drafts.map(\.target.bandwidthBytesPerSecond)))
                AS draft (id, rule_id, rule_version, target_id, priority, bandwidth)
            """, logger: logger)
    }

    /// Stores the files of `drafts[group]` and returns those jobs as the agent gets them: each file's path, size,
    /// time and hash as the inventory holds them now, in the order the plan chose. A file the inventory no longer
    /// holds for this host is left out. Each file is looked up by its key (the lateral join, fenced by OFFSET 0):
    /// left to itself, PostgreSQL hashes the host's whole inventory for each statement.
    private func writeFiles(of drafts: [Draft], _ group: Range<Int>, customerID: UUID, hostID: UUID,
                            on connection: PostgresConnection, logger: Logger) async throws -> [TieringJob] {
        var jobIndexes: [Int] = []
        var jobIDs: [UUID] = []
        var fileIDs: [Int64] = []
        for index in group {
            for fileID in drafts[index].fileIDs {
                jobIndexes.append(index)
                jobIDs.append(drafts[index].id)
                fileIDs.append(fileID)
            }
        }
        let rows = try await connection.query("""
            WITH chosen AS (
                SELECT wanted.job_index, wanted.job_id, wanted.position, inventory.id, inventory.file_path, inventory.file_size,
                    inventory.last_modified, inventory.hash
                FROM unnest(\(jobIndexes), \(jobIDs), \(fileIDs)) WITH ORDINALITY AS wanted (job_index, job_id, id, position)
                CROSS JOIN LATERAL (
                    SELECT * FROM file_inventory AS inventory
                    WHERE inventory.customer_id = \(customerID) AND inventory.id = wanted.id AND inventory.host_id = \(hostID)
                    OFFSET 0) AS inventory
            ), stored AS (
                INSERT INTO tiering_job_files (job_id, file_id, customer_id, file_path, file_size)
                SELECT job_id, id, \(customerID), file_path, file_size FROM chosen
            )
            SELECT job_index, id, file_path, file_size, last_modified, hash FROM chosen ORDER BY position
            """, logger: logger)
        var files = [[TieringJob.File]](repeating: [], count: group.count)
        for try await (jobIndex, id, path, size, modified, hash) in rows.decode((Int, Int64, String, Int64, Date, String?).self) {
            files[jobIndex - group.lowerBound].append(TieringJob.File(fileID: id, filePath: path, fileSize: size,
                                                                      lastModified: modified, hash: hash))
        }
        return group.map { index in
            let draft = drafts[index]
            let jobFiles = files[index - group.lowerBound]
            let bytes = jobFiles.reduce(Int64(0)) { $0 + $1.fileSize }
            return TieringJob(jobID: draft.id, ruleID: draft.rule.id, priority: draft.rule.priority, files: jobFiles,
                              estimatedSpaceSaved: bytes, estimatedDurationSeconds: draft.target.transferSeconds(bytes),
                              bandwidthBytesPerSecond: draft.target.bandwidthLimit, target: draft.target.reference)
        }
    }
}
