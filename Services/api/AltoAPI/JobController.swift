import AltoModels
import AltoRuntime
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// `/api/v1/jobs` and `GET /api/v1/recalls`: the tenant's tiering and recall jobs, newest first, and one job with
/// every file's outcome and the reason it was skipped or failed. The jobs page lists them and follows the
/// notifications WebSocket for their progress.
struct JobController: Sendable {
    let scope: TenantScope

    func add(to router: Router<AltoRequestContext>) {
        router.get("/api/v1/jobs") { request, context in try await tieringJobs(request, context) }
        router.get("/api/v1/jobs/:jobID") { request, context in try await tieringJob(request, context) }
        router.get("/api/v1/recalls") { request, context in try await recallJobs(request, context) }
        router.get("/api/v1/recalls/:recallID") { request, context in try await recallJob(request, context) }
    }

    struct Job: Encodable {
        var id: UUID
        var kind: String
        var hostID: UUID
        var hostname: String
        var ruleID: UUID?
        var ruleName: String?
        var targetID: UUID?
        var targetName: String?
        var state: String
        var stateReason: String?
        var fileCount: Int64
        var totalBytes: Int64?
        var bytesSaved: Int64?
        /// Files with an outcome so far, by outcome.
        var outcomes: [String: Int64]
        var requestedBy: String?
        var createdAt: Date
        var dispatchedAt: Date?
        var finishedAt: Date?
        enum CodingKeys: String, CodingKey {
            case id, kind, hostname, state, outcomes
            case hostID = "host_id", ruleID = "rule_id", ruleName = "rule_name", targetID = "target_id", targetName = "target_name"
            case stateReason = "state_reason", fileCount = "file_count", totalBytes = "total_bytes", bytesSaved = "bytes_saved"
            case requestedBy = "requested_by", createdAt = "created_at", dispatchedAt = "dispatched_at", finishedAt = "finished_at"
        }
    }

    struct File: Encodable {
        var path: String
        var size: Int64?
        var state: String
        var reason: String?
        enum CodingKeys: String, CodingKey { case path, size, state, reason }
    }

    struct Detail: Encodable {
        var job: Job
        var files: [File]
        /// The path to pass as `after` for the next page of files, when there is one.
        var nextAfter: String?
        enum CodingKeys: String, CodingKey { case job, files, nextAfter = "next_after" }
    }

    struct Filter {
        var state: String?
        var hostID: UUID?
        var limit: Int
        var before: Date?
        /// With `before`, the id of the last job of the page, so the jobs of one plan, made at the same instant,
        /// are neither skipped nor listed twice.
        var beforeID: UUID?

        init(_ request: Request, states: [String]) throws {
            let query = request.uri.queryParameters
            state = try FindingController.oneOf(query.get("state"), states, name: "state")
            hostID = try FindingController.uuid(query.get("host_id"), name: "host_id")
            limit = try AuditController.integer(query.get("limit"), name: "limit", default: 100, range: 1...1000)
            if let text = query.get("before") {
                guard let date = RFC3339.parse(text) else { throw APIError.invalid("before", "must be an RFC 3339 time") }
                before = date
            }
            beforeID = try FindingController.uuid(query.get("before_id"), name: "before_id")
        }

        /// `(created_at, id)` of the next page's first job lies below this; without `before_id`, below `before` alone.
        var cursorID: UUID { beforeID ?? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)) }
    }

    static let tieringStates = ["queued", "dispatched", "running", "held", "done", "partially_done", "failed"]
    static let recallStates = ["queued", "dispatched", "done", "partially_done", "failed"]

    /// `state`, `host_id`, `limit` (100), and `before` and `before_id` (the `created_at` and `id` of the last page's
    /// last job).
    func tieringJobs(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let filter = try Filter(request, states: Self.tieringStates)
        let jobs = try await scope.run(context) { connection in
            try await loadTiering(customerID: customerID, jobID: nil, filter: filter, on: connection, logger: context.logger)
        }
        return try JSONResponse.make(status: .ok, ["jobs": jobs])
    }

    /// One job and a page of its files (`limit`, 1000, and `after`, a path), in path order.
    func tieringJob(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let jobID = try context.parameters.uuid("jobID")
        let (limit, after) = try Self.page(request)
        let detail = try await scope.run(context) { connection -> Detail in
            guard let job = try await loadTiering(customerID: customerID, jobID: jobID, filter: nil, on: connection,
                                                  logger: context.logger).first else {
                throw APIError(.notFound, "not_found", "tiering job \(jobID) does not exist")
            }
            let files = try await connection.query("""
                SELECT file_path, file_size, state, reason FROM tiering_job_files
                WHERE customer_id = \(customerID) AND job_id = \(jobID) AND file_path > \(after)
                ORDER BY file_path LIMIT \(limit + 1)
                """, logger: context.logger).collect().map {
                let (path, size, state, reason) = try $0.decode((String, Int64, String, String?).self)
                return File(path: path, size: size, state: state, reason: reason)
            }
            return Self.detail(job, files, limit: limit)
        }
        return try JSONResponse.make(status: .ok, detail)
    }

    func recallJobs(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let filter = try Filter(request, states: Self.recallStates)
        let jobs = try await scope.run(context) { connection in
            try await loadRecalls(customerID: customerID, jobID: nil, filter: filter, on: connection, logger: context.logger)
        }
        return try JSONResponse.make(status: .ok, ["recalls": jobs])
    }

    func recallJob(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let jobID = try context.parameters.uuid("recallID")
        let (limit, after) = try Self.page(request)
        let detail = try await scope.run(context) { connection -> Detail in
            guard let job = try await loadRecalls(customerID: customerID, jobID: jobID, filter: nil, on: connection,
                                                  logger: context.logger).first else {
                throw APIError(.notFound, "not_found", "recall \(jobID) does not exist")
            }
            let files = try await connection.query("""
                SELECT file_path, state, reason FROM recall_job_files
                WHERE customer_id = \(customerID) AND job_id = \(jobID) AND file_path > \(after)
                ORDER BY file_path LIMIT \(limit + 1)
                """, logger: context.logger).collect().map {
                let (path, state, reason) = try $0.decode((String, String, String?).self)
                return File(path: path, size: nil, state: state, reason: reason)
            }
            return Self.detail(job, files, limit: limit)
        }
        return try JSONResponse.make(status: .ok, detail)
    }

    private static func page(_ request: Request) throws -> (Int, String) {
        let query = request.uri.queryParameters
        return (try AuditController.integer(query.get("limit"), name: "limit", default: 1000, range: 1...10_000), query.get("after") ?? "")
    }

    private static func detail(_ job: Job, _ files: [File], limit: Int) -> Detail {
        Detail(job: job, files: Array(files.prefix(limit)), nextAfter: files.count > limit ? files[limit - 1].path : nil)
    }

    private func loadTiering(customerID: UUID, jobID: UUID?, filter: Filter?, on connection: PostgresConnection,
                             logger: Logger) async throws -> [Job] {
        try await connection.query("""
            SELECT job.id, job.host_id, host.hostname, job.rule_id, rule.name, job.target_id, target.name, job.state, job.state_reason,
                   job.file_count::bigint, job.total_bytes, job.bytes_saved, job.created_at, job.dispatched_at, job.finished_at,
                   coalesce((SELECT json_object_agg(counts.state, counts.files)::text FROM (
                       SELECT state, count(*) AS files FROM tiering_job_files
                       WHERE customer_id = job.customer_id AND job_id = job.id GROUP BY state) AS counts), '{}')
            FROM tiering_jobs AS job
            JOIN hosts AS host ON host.id = job.host_id AND host.customer_id = job.customer_id
            LEFT JOIN rules AS rule ON rule.id = job.rule_id
            LEFT JOIN storage_targets AS target ON target.id = job.target_id
            WHERE job.customer_id = \(customerID) AND (\(jobID)::uuid IS NULL OR job.id = \(jobID))
              AND (\(filter?.state)::text IS NULL OR job.state = \(filter?.state))
              AND (\(filter?.hostID)::uuid IS NULL OR job.host_id = \(filter?.hostID))
              AND (\(filter?.before)::timestamptz IS NULL OR (job.created_at, job.id) < (\(filter?.before), \(filter?.cursorID)))
            ORDER BY job.created_at DESC, job.id DESC LIMIT \(filter?.limit ?? 1)
            """, logger: logger).collect().map { row in
            let (id, hostID, hostname, ruleID, ruleName, targetID, targetName, state, reason, files, bytes, saved, created, dispatched,
                 finished, outcomes) = try row.decode((UUID, UUID, String, UUID?, String?, UUID?, String?, String, String?, Int64, Int64, Int64,
                                                       Date, Date?, Date?, String).self)
            return Job(id: id, kind: "tier", hostID: hostID, hostname: hostname, ruleID: ruleID, ruleName: ruleName, targetID: targetID,
                       targetName: targetName, state: state, stateReason: reason, fileCount: files, totalBytes: bytes, bytesSaved: saved,
                       outcomes: Self.counts(outcomes), requestedBy: nil, createdAt: created, dispatchedAt: dispatched, finishedAt: finished)
        }
    }

    private func loadRecalls(customerID: UUID, jobID: UUID?, filter: Filter?, on connection: PostgresConnection,
                             logger: Logger) async throws -> [Job] {
        try await connection.query("""
            SELECT job.id, job.host_id, host.hostname, job.rule_id, rule.name, job.state, job.file_count::bigint, job.requested_by,
                   job.created_at, job.dispatched_at, job.finished_at,
                   coalesce((SELECT json_object_agg(counts.state, counts.files)::text FROM (
                       SELECT state, count(*) AS files FROM recall_job_files
                       WHERE customer_id = job.customer_id AND job_id = job.id GROUP BY state) AS counts), '{}')
            FROM recall_jobs AS job
            JOIN hosts AS host ON host.id = job.host_id AND host.customer_id = job.customer_id
            LEFT JOIN rules AS rule ON rule.id = job.rule_id
            WHERE job.customer_id = \(customerID) AND (\(jobID)::uuid IS NULL OR job.id = \(jobID))
              AND (\(filter?.state)::text IS NULL OR job.state = \(filter?.state))
              AND (\(filter?.hostID)::uuid IS NULL OR job.host_id = \(filter?.hostID))
              AND (\(filter?.before)::timestamptz IS NULL OR (job.created_at, job.id) < (\(filter?.before), \(filter?.cursorID)))
            ORDER BY job.created_at DESC, job.id DESC LIMIT \(filter?.limit ?? 1)
            """, logger: logger).collect().map { row in
            let (id, hostID, hostname, ruleID, ruleName, state, files, requestedBy, created, dispatched, finished, outcomes) =
                try row.decode((UUID, UUID, String, UUID?, String?, String, Int64, String, Date, Date?, Date?, String).self)
            return Job(id: id, kind: "recall", hostID: hostID, hostname: hostname, ruleID: ruleID, ruleName: ruleName, targetID: nil,
                       targetName: nil, state: state, stateReason: nil, fileCount: files, totalBytes: nil, bytesSaved: nil,
                       outcomes: Self.counts(outcomes), requestedBy: requestedBy, createdAt: created, dispatchedAt: dispatched,
                       finishedAt: finished)
        }
    }

    private static func counts(_ json: String) -> [String: Int64] {
        (try? JSONDecoder().decode([String: Int64].self, from: Data(json.utf8))) ?? [:]
    }
}
