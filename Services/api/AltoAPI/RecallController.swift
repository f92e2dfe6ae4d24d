import AltoAMQP
import AltoModels
import AltoRuntime
import AltoStore
import Foundation
import Hummingbird
import Logging
import Metrics
import PostgresNIO

/// `POST /api/v1/recalls`: bring stubs back to their file servers, named by path (on one host) or by the rule that
/// tiered them. The recall jobs (one per host, at most `maxFilesPerJob` files each) are written with their
/// `recall.job` messages in one transaction; the actor routes them to the agents, which run them ahead of tiering.
struct RecallController: Sendable {
    let scope: TenantScope
    static let maxFilesPerJob = 1000

    struct RecallRequest: Codable {
        var hostID: UUID?
        var paths: [String]?
        var ruleID: UUID?
        enum CodingKeys: String, CodingKey {
            case hostID = "host_id"
            case paths
            case ruleID = "rule_id"
        }
    }

    struct QueuedRecall: Codable {
        var recallID: UUID
        var hostID: UUID
        var files: Int
        enum CodingKeys: String, CodingKey {
            case recallID = "recall_id"
            case hostID = "host_id"
            case files
        }
    }

    func add(to router: Router<AltoRequestContext>) {
        router.post("/api/v1/recalls") { request, context in try await recall(request, context) }
    }

    func recall(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let requestedBy = try context.caller().auditName
        let logger = context.logger
        let body = try await request.decodeJSON(RecallRequest.self)
        switch (body.paths, body.ruleID) {
        case (nil, nil), (.some, .some):
            throw APIError.invalid("paths", "name either the stubs' paths (with host_id) or a rule_id")
        case (.some(let paths), nil):
            guard body.hostID != nil else { throw APIError.invalid("host_id", "is required with paths") }
            guard !paths.isEmpty else { throw APIError.invalid("paths", "must name at least one file") }
        case (nil, .some):
            break
        }
        let queued = try await scope.audited(context, action: "recall.request",
                                             target: body.ruleID.map { "rule/\($0)" } ?? "host/\(body.hostID!)") { connection in
            let stubs = try await stubs(customerID: customerID, body, on: connection, logger: logger)
            if let paths = body.paths {
                let found = Set(stubs.map(\.path))
                if let missing = paths.first(where: { !found.contains($0) }) {
                    throw APIError.invalid("paths", "\(missing) is not a stub of host \(body.hostID!)")
                }
            }
            var queued: [QueuedRecall] = []
            for (hostID, files) in Dictionary(grouping: stubs, by: \.hostID).sorted(by: { $0.key.uuidString < $1.key.uuidString }) {
                for start in stride(from: 0, to: files.count, by: Self.maxFilesPerJob) {
                    let chunk = files[start..<min(files.count, start + Self.maxFilesPerJob)]
                    queued.append(try await enqueue(customerID: customerID, hostID: hostID, ruleID: body.ruleID, requestedBy: requestedBy,
                                                    Array(chunk), on: connection, logger: logger))
                }
            }
            Counter(label: "alto_api_recalls_requested_total").increment(by: stubs.count)
            return queued
        }
        return try JSONResponse.make(status: .accepted, ["recalls": queued])
    }

    private struct Stub {
        var hostID: UUID
        var path: String
        var fileID: Int64?
    }

    /// The tenant's active stubs the request names; a rule names those its jobs tiered.
    private func stubs(customerID: UUID, _ body: RecallRequest, on connection: PostgresConnection, logger: Logger) async throws -> [Stub] {
        if let ruleID = body.ruleID {
            guard try await connection.query("SELECT 1 FROM rules WHERE id = \(ruleID) AND customer_id = \(customerID)",
                                             logger: logger).decode(Int.self).first(where: { _ in true }) != nil else {
                throw APIError(.notFound, "not_found", "rule \(ruleID) does not exist")
            }
        } else if let hostID = body.hostID {
            guard try await connection.query("SELECT 1 FROM hosts WHERE id = \(hostID) AND customer_id = \(customerID)",
                                             logger: logger).decode(Int.self).first(where: { _ in true }) != nil else {
                throw APIError(.notFound, "not_found", "host \(hostID) does not exist")
            }
        }
        var stubs: [Stub] = []
        let rows = try await connection.query("""
            SELECT stub.host_id, stub.file_path, stub.file_id FROM stub_registry stub
            LEFT JOIN tiering_jobs job ON job.id = stub.job_id
            WHERE stub.customer_id = \(customerID) AND stub.state = 'active'
              AND (\(body.hostID)::uuid IS NULL OR stub.host_id = \(body.hostID))
              AND (\(body.paths)::text[] IS NULL OR stub.file_path = ANY(\(body.paths)::text[]))
              AND (\(body.ruleID)::uuid IS NULL OR job.rule_id = \(body.ruleID))
            ORDER BY stub.host_id, stub.file_path
            """, logger: logger)
        for try await (hostID, path, fileID) in rows.decode((UUID, String, Int64?).self) {
            stubs.append(Stub(hostID: hostID, path: path, fileID: fileID))
        }
        return stubs
    }

    private func enqueue(customerID: UUID, hostID: UUID, ruleID: UUID?, requestedBy: String, _ files: [Stub],
                         on connection: PostgresConnection, logger: Logger) async throws -> QueuedRecall {
        let jobID = UUID()
        try await connection.query("""
            INSERT INTO recall_jobs (id, customer_id, host_id, requested_by, rule_id, file_count)
            VALUES (\(jobID), \(customerID), \(hostID), \(requestedBy), \(ruleID), \(files.count))
            """, logger: logger)
        try await connection.query("""
            INSERT INTO recall_job_files (job_id, customer_id, file_path, file_id)
            SELECT \(jobID), \(customerID), path, nullif(id, 0)
            FROM unnest(\(files.map(\.path))::text[], \(files.map { $0.fileID ?? 0 })::bigint[]) AS f(path, id)
            """, logger: logger)
        let payload = RecallJob(jobID: jobID, files: files.map { RecallJob.File(fileID: $0.fileID, filePath: $0.path) }, requestedBy: requestedBy)
        try await Outbox.enqueue(Envelope(customerID: customerID, hostID: hostID, payload: payload), queue: AMQPTopology.tieringJobs,
                                 on: connection, logger: logger)
        return QueuedRecall(recallID: jobID, hostID: hostID, files: files.count)
    }
}
