import AltoAMQP
import AltoModels
import AltoPlanning
import AltoStore
import Foundation
import Logging
import PostgresNIO

/// Turns what a plan took into jobs: per rule (so per target and priority) chunks of at most `maximumFilesPerJob`
/// files, each stored with its files and its `tiering.jobs` envelope in the plan's transaction, so a crash neither
/// loses a job nor publishes one twice (the outbox relay publishes it after the commit).
struct PlanWriter: Sendable {
    let maximumFilesPerJob: Int

    struct Written {
        var jobs = 0
        var files = 0
        var bytes: Int64 = 0
    }

    func write(_ result: HostPlanComputation.Result, trigger: Envelope<PlannerTrigger>, hostID: UUID,
               on connection: PostgresConnection, logger: Logger) async throws -> Written {
        var written = Written()
        for outcome in result.outcomes where !outcome.taken.candidates.isEmpty {
            guard let target = result.targets[outcome.rule.targetID] else {
                logger.warning("rule's target is gone; its files wait", metadata: ["rule": "\(outcome.rule.id)"])
                continue
            }
            let candidates = outcome.taken.candidates
            for start in stride(from: 0, to: candidates.count, by: maximumFilesPerJob) {
                let chunk = candidates[start..<min(start + maximumFilesPerJob, candidates.count)]
                let job = try await writeJob(chunk.map(\.fileID), rule: outcome.rule, target: target, trigger: trigger,
                                             hostID: hostID, on: connection, logger: logger)
                written.jobs += 1
                written.files += job.files.count
                written.bytes += job.estimatedSpaceSaved
            }
        }
        return written
    }

    private func writeJob(_ fileIDs: [Int64], rule: TieringRule, target: PlanTarget, trigger: Envelope<PlannerTrigger>,
                          hostID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> TieringJob {
        let jobID = UUID()
        let customerID = trigger.customerID
        try await connection.query("""
            INSERT INTO tiering_jobs (id, customer_id, host_id, rule_id, rule_version, target_id, priority, file_count,
                total_bytes, estimated_space_saved, estimated_duration_seconds, bandwidth_bytes_per_second, plan_id)
            VALUES (\(jobID), \(customerID), \(hostID), \(rule.id), \(rule.version), \(target.reference.id), \(rule.priority),
                0, 0, 0, 0, \(target.bandwidthBytesPerSecond), \(trigger.id))
            """, logger: logger)
        var files: [TieringJob.File] = []
        files.reserveCapacity(fileIDs.count)
        let rows = try await connection.query("""
            WITH chosen AS (
                SELECT inventory.id, inventory.file_path, inventory.file_size, inventory.last_modified, inventory.hash, wanted.position
                FROM unnest(\(fileIDs)::bigint[]) WITH ORDINALITY AS wanted(id, position)
                JOIN file_inventory AS inventory ON inventory.id = wanted.id
                WHERE inventory.customer_id = \(customerID) AND inventory.host_id = \(hostID)
            ), stored AS (
                INSERT INTO tiering_job_files (job_id, file_id, customer_id, file_path, file_size)
                SELECT \(jobID), id, \(customerID), file_path, file_size FROM chosen
            )
            SELECT id, file_path, file_size, last_modified, hash FROM chosen ORDER BY position
            """, logger: logger)
        for try await (id, path, size, modified, hash) in rows.decode((Int64, String, Int64, Date, String?).self) {
            files.append(TieringJob.File(fileID: id, filePath: path, fileSize: size, lastModified: modified, hash: hash))
        }
        let bytes = files.reduce(Int64(0)) { $0 + $1.fileSize }
        let job = TieringJob(jobID: jobID, ruleID: rule.id, priority: rule.priority, files: files, estimatedSpaceSaved: bytes,
                             estimatedDurationSeconds: target.transferSeconds(bytes),
                             bandwidthBytesPerSecond: target.bandwidthLimit, target: target.reference)
        try await connection.query("""
            UPDATE tiering_jobs SET file_count = \(files.count), total_bytes = \(bytes), estimated_space_saved = \(bytes),
                estimated_duration_seconds = \(job.estimatedDurationSeconds)
            WHERE id = \(jobID)
            """, logger: logger)
        try await Outbox.enqueue(trigger.reply(job), queue: AMQPTopology.tieringJobs, on: connection, logger: logger)
        return job
    }
}
