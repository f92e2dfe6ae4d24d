import AltoAMQP
import AltoModels
import AltoPlanning
import AltoRuntime
import AltoStore
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// `/api/v1/plans`: an admin asks for a plan now (queued to the planner like any other trigger), or asks what a
/// plan would do (`?dry_run=true`, computed here in a transaction that is rolled back, nothing queued), or asks why one file is
/// or is not selected (`/api/v1/plans/explain`).
struct PlanController: Sendable {
    let scope: TenantScope
    /// What the planner is configured with, so a what-if answers what the planner would do.
    let minimumFileBytes: Int64

    struct PlanRequest: Codable {
        var hostID: UUID?
        var maxFiles: Int?
        var maxBytes: Int64?
        enum CodingKeys: String, CodingKey {
            case hostID = "host_id"
            case maxFiles = "max_files"
            case maxBytes = "max_bytes"
        }
    }

    struct ExplainRequest: Codable {
        var hostID: UUID
        var filePath: String
        enum CodingKeys: String, CodingKey {
            case hostID = "host_id"
            case filePath = "file_path"
        }
    }

    func add(to router: Router<AltoRequestContext>) {
        router.post("/api/v1/plans") { request, context in try await plan(request, context) }
        router.post("/api/v1/plans/explain") { request, context in try await explain(request, context) }
    }

    func plan(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let logger = context.logger
        let body = try await request.decodeJSON(PlanRequest.self)
        if let maxFiles = body.maxFiles, maxFiles <= 0 { throw APIError.invalid("max_files", "must be above 0, got \(maxFiles)") }
        if let maxBytes = body.maxBytes, maxBytes <= 0 { throw APIError.invalid("max_bytes", "must be above 0, got \(maxBytes)") }
        let hosts = try await hosts(context, only: body.hostID)
        if try request.isDryRun() {
            let report = try await scope.rehearse(context) { connection in
                try await WhatIfReport.compute(customerID: customerID, hosts: hosts, minimumFileBytes: minimumFileBytes,
                                               caps: .init(maxFiles: body.maxFiles, maxBytes: body.maxBytes), on: connection, logger: logger)
            }
            return try JSONResponse.make(status: .ok, report)
        }
        let queued = try await scope.audited(context, action: "plan.request",
                                             target: body.hostID.map { "host/\($0)" } ?? "customer/\(customerID)") { connection in
            var queued: [QueuedPlan] = []
            for hostID in hosts {
                let envelope = Envelope(customerID: customerID, hostID: hostID,
                                        payload: PlannerTrigger(reason: .admin, maxFiles: body.maxFiles, maxBytes: body.maxBytes))
                try await Outbox.enqueue(envelope, queue: AMQPTopology.plannerJobs, on: connection, logger: logger)
                queued.append(QueuedPlan(planID: envelope.id, hostID: hostID))
            }
            return queued
        }
        return try JSONResponse.make(status: .accepted, ["plans": queued])
    }

    struct QueuedPlan: Codable {
        var planID: UUID
        var hostID: UUID
        enum CodingKeys: String, CodingKey {
            case planID = "plan_id"
            case hostID = "host_id"
        }
    }

    struct Explanation: Encodable {
        var filePath: String
        var matchedRule: UUID?
        var rules: [RuleVerdict]
        enum CodingKeys: String, CodingKey {
            case filePath = "file_path"
            case matchedRule = "matched_rule_id"
            case rules
        }
    }

    func explain(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let logger = context.logger
        let body = try await request.decodeJSON(ExplainRequest.self)
        _ = try await hosts(context, only: body.hostID)
        let explanation = try await scope.run(context) { connection -> Explanation? in
            let rows = try await connection.query("""
                SELECT id, file_size, last_modified, last_accessed, file_extension, is_stubbed FROM file_inventory
                WHERE customer_id = \(customerID) AND host_id = \(body.hostID) AND file_path = \(body.filePath)
                  AND deleted_at IS NULL
                """, logger: logger)
            for try await (id, size, modified, accessed, fileExtension, stubbed) in rows.decode((Int64, Int64, Date, Date?, String, Bool).self) {
                let file = InventoryFile(id: id, path: body.filePath, size: size, lastModified: modified, lastAccessed: accessed,
                                         fileExtension: fileExtension, isStubbed: stubbed)
                let computation = HostPlanComputation(customerID: customerID, hostID: body.hostID, minimumFileBytes: minimumFileBytes)
                let evaluator = try await computation.makeEvaluator(on: connection, logger: logger).evaluator
                return Explanation(filePath: body.filePath, matchedRule: evaluator.firstMatchingRule(file)?.id,
                                   rules: evaluator.explain(file))
            }
            return nil
        }
        guard let explanation else {
            throw APIError(.notFound, "not_found", "\(body.filePath) is not in the inventory of host \(body.hostID)")
        }
        return try JSONResponse.make(status: .ok, explanation)
    }

    /// The tenant's hosts, or the one named (404 when it is not the tenant's).
    private func hosts(_ context: AltoRequestContext, only hostID: UUID?) async throws -> [UUID] {
        let customerID = try context.tenant()
        let logger = context.logger
        let hosts = try await scope.run(context) { connection in
            var hosts: [UUID] = []
            for try await id in try await connection.query("""
                SELECT id FROM hosts WHERE customer_id = \(customerID) AND (\(hostID)::uuid IS NULL OR id = \(hostID)) ORDER BY hostname
                """, logger: logger).decode(UUID.self) {
                hosts.append(id)
            }
            return hosts
        }
        if let hostID, hosts.isEmpty { throw APIError(.notFound, "not_found", "host \(hostID) does not exist") }
        return hosts
    }
}
