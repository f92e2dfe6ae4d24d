import AltoAMQP
import AltoModels
import AltoService
import AltoStore
import Foundation
import Logging
import Metrics
import PostgresNIO

/// Plans one host: its tenant's enabled rules in priority order against the files that are neither stubs, deleted,
/// nor already in an open job; matches grouped by rule into jobs, each stored with its files and its
/// `tiering.jobs` message in one transaction. A per-host advisory lock keeps replicas from planning a file twice.
struct HostPlanner: Sendable {
    let postgres: PostgresClient
    let maximumFilesPerJob: Int
    let logger: Logger
    private let plannedFiles = Counter(label: "alto_planner_files_planned_total")
    private let plannedJobs = Counter(label: "alto_planner_jobs_total")

    /// Used for estimates when a target has no bandwidth limit configured.
    static let defaultBandwidth: Int64 = 100 << 20

    init(postgres: PostgresClient, maximumFilesPerJob: Int, logger: Logger) {
        self.postgres = postgres
        self.maximumFilesPerJob = max(1, maximumFilesPerJob)
        self.logger = logger
    }

    func handle(_ delivery: AMQPDelivery) async -> AMQPSettlement {
        await HostMessage.handle(delivery, as: PlannerTrigger.self, logger: logger) { envelope, hostID, logger in
            do {
                let jobs = try await plan(envelope, hostID: hostID, logger: logger)
                logger.info("host planned", metadata: ["jobs": "\(jobs)", "reason": "\(envelope.payload.reason.rawValue)"])
                return .ack
            } catch let error as RuleEvaluator.RuleError {
                return .deadLetter(reason: error.description)
            }
        }
    }

    private struct Target {
        var reference: StorageTargetReference
        var bandwidth: Int64
    }

    private func plan(_ envelope: Envelope<PlannerTrigger>, hostID: UUID, logger: Logger) async throws -> Int {
        let customerID = envelope.customerID
        let now = Date()
        return try await postgres.withTransaction(logger: logger) { connection -> Int in
            guard try await Outbox.markProcessed(consumer: "planner", messageID: envelope.id, on: connection, logger: logger) else {
                return 0
            }
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(hostID.uuidString)))", logger: logger)
            let rules = try await loadRules(customerID: customerID, connection: connection, logger: logger)
            guard !rules.isEmpty else { return 0 }
            let evaluator = try RuleEvaluator(rules: rules)
            let targets = try await loadTargets(customerID: customerID, connection: connection, logger: logger)

            var matched: [UUID: [TieringJob.File]] = [:]
            let candidates = try await connection.query("""
                SELECT id, file_path, file_size, last_modified, last_accessed, file_extension, hash
                FROM file_inventory AS inventory
                WHERE customer_id = \(customerID) AND host_id = \(hostID) AND NOT is_stubbed AND deleted_at IS NULL
                  AND NOT EXISTS (
                      SELECT 1 FROM tiering_job_files AS job_file JOIN tiering_jobs AS job ON job.id = job_file.job_id
                      WHERE job_file.file_id = inventory.id AND job_file.state = 'pending'
                        AND job.state IN ('queued', 'dispatched', 'running'))
                ORDER BY id
                """, logger: logger)
            for try await (id, path, size, modified, accessed, fileExtension, hash) in candidates.decode(
                (Int64, String, Int64, Date, Date?, String, String?).self
            ) {
                let file = InventoryFile(id: id, path: path, size: size, lastModified: modified, lastAccessed: accessed,
                                         fileExtension: fileExtension, isStubbed: false)
                guard let rule = evaluator.firstMatch(for: file, now: now) else { continue }
                matched[rule.id, default: []].append(
                    TieringJob.File(fileID: id, filePath: path, fileSize: size, lastModified: modified, hash: hash))
            }

            var jobCount = 0
            for rule in rules where matched[rule.id] != nil {
                guard let target = targets[rule.targetID] else { continue }
                for chunkStart in stride(from: 0, to: matched[rule.id]!.count, by: maximumFilesPerJob) {
                    let files = Array(matched[rule.id]![chunkStart..<min(chunkStart + maximumFilesPerJob, matched[rule.id]!.count)])
                    try await storeJob(files: files, rule: rule, target: target, envelope: envelope, hostID: hostID,
                                       connection: connection, logger: logger)
                    jobCount += 1
                    plannedFiles.increment(by: files.count)
                }
            }
            plannedJobs.increment(by: jobCount)
            return jobCount
        }
    }

    private func storeJob(files: [TieringJob.File], rule: TieringRule, target: Target, envelope: Envelope<PlannerTrigger>,
                          hostID: UUID, connection: PostgresConnection, logger: Logger) async throws {
        let totalBytes = files.reduce(Int64(0)) { $0 + $1.fileSize }
        let job = TieringJob(
            jobID: UUID(), ruleID: rule.id, priority: rule.priority, files: files,
            estimatedSpaceSaved: totalBytes,
            estimatedDurationSeconds: Double(totalBytes) / Double(target.bandwidth),
            target: target.reference)
        try await connection.query("""
            INSERT INTO tiering_jobs (id, customer_id, host_id, rule_id, target_id, priority, file_count, total_bytes,
                estimated_space_saved, estimated_duration_seconds)
            VALUES (\(job.jobID), \(envelope.customerID), \(hostID), \(rule.id), \(target.reference.id), \(rule.priority),
                \(files.count), \(totalBytes), \(job.estimatedSpaceSaved), \(job.estimatedDurationSeconds))
            """, logger: logger)
        try await connection.query("""
            INSERT INTO tiering_job_files (job_id, file_id, customer_id, file_path, file_size)
            SELECT \(job.jobID), file_id, \(envelope.customerID), file_path, file_size
            FROM unnest(\(files.map(\.fileID)), \(files.map(\.filePath)), \(files.map(\.fileSize))) AS f(file_id, file_path, file_size)
            """, logger: logger)
        try await Outbox.enqueue(envelope.reply(job), queue: AMQPTopology.tieringJobs, on: connection, logger: logger)
    }

    private func loadRules(customerID: UUID, connection: PostgresConnection, logger: Logger) async throws -> [TieringRule] {
        var rules: [TieringRule] = []
        let rows = try await connection.query("""
            SELECT id, name, priority, path_globs, path_regex, case_sensitive, min_days_since_modified,
                min_days_since_accessed, min_size, max_size, include_extensions, exclude_extensions, target_id
            FROM rules WHERE customer_id = \(customerID) AND enabled
            """, logger: logger)
        for try await row in rows {
            let (id, name, priority, globs, regex, caseSensitive, modifiedDays, accessedDays) =
                try row.decode((UUID, String, Int, [String], String?, Bool, Int?, Int?).self)
            let columns = row.makeRandomAccess()
            rules.append(TieringRule(
                id: id, name: name, priority: priority, pathGlobs: globs, pathRegex: regex, caseSensitive: caseSensitive,
                minDaysSinceModified: modifiedDays, minDaysSinceAccessed: accessedDays,
                minSize: try columns[8].decode(Int64?.self), maxSize: try columns[9].decode(Int64?.self),
                includeExtensions: try columns[10].decode([String].self), excludeExtensions: try columns[11].decode([String].self),
                targetID: try columns[12].decode(UUID.self)))
        }
        return rules
    }

    private func loadTargets(customerID: UUID, connection: PostgresConnection, logger: Logger) async throws -> [UUID: Target] {
        var targets: [UUID: Target] = [:]
        let rows = try await connection.query("""
            SELECT id, kind, location, bandwidth_bytes_per_second FROM storage_targets WHERE customer_id = \(customerID)
            """, logger: logger)
        for try await (id, kind, location, bandwidth) in rows.decode((UUID, String, String, Int64?).self) {
            guard let kind = StorageTargetReference.Kind(rawValue: kind) else { continue }
            targets[id] = Target(reference: StorageTargetReference(id: id, kind: kind, location: location),
                                 bandwidth: bandwidth ?? Self.defaultBandwidth)
        }
        return targets
    }
}
