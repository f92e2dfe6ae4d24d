import AltoCentral
import AltoModels
import AltoRuntime
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// What the sanitizer found, and asking it to look now: `GET /api/v1/findings` (filtered, a page at a time),
/// `PATCH /api/v1/findings/{id}` to accept a finding (or open it again), `POST /api/v1/reconciliations` to have a
/// target listed and, with `"verify": "all"`, every copy read back (`"check_stubs": false` leaves the hosts' stubs
/// unchecked), and `GET /api/v1/reconciliations/{id}` to follow
/// such a run.
struct FindingController: Sendable {
    let scope: TenantScope
    /// The share of copies a sampled run reads back (`ALTO_SANITIZER_VERIFY_PERCENT`).
    let samplePercent: Double

    static let states = ["open", "accepted", "repaired", "resolved"]

    func add(to router: Router<AltoRequestContext>) {
        router.get("/api/v1/findings") { request, context in try await list(request, context) }
        router.patch("/api/v1/findings/:findingID") { request, context in try await change(request, context) }
        router.post("/api/v1/reconciliations") { request, context in try await reconcile(request, context) }
        router.get("/api/v1/reconciliations/:runID") { request, context in try await run(request, context) }
    }

    struct Finding: Codable {
        var id: Int64
        var kind: String
        var targetID: UUID
        var hostID: UUID?
        var filePath: String?
        var location: String
        var detail: String
        var state: String
        var firstSeen: Date
        var lastSeen: Date
        var endedAt: Date?

        enum CodingKeys: String, CodingKey {
            case id, kind, location, detail, state
            case targetID = "target_id"
            case hostID = "host_id"
            case filePath = "file_path"
            case firstSeen = "first_seen"
            case lastSeen = "last_seen"
            case endedAt = "ended_at"
        }
    }

    func list(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let query = request.uri.queryParameters
        let kind = try Self.oneOf(query.get("kind"), FindingKind.allCases.map(\.rawValue), name: "kind")
        let state = try Self.oneOf(query.get("state"), Self.states, name: "state")
        let targetID = try Self.uuid(query.get("target_id"), name: "target_id")
        let hostID = try Self.uuid(query.get("host_id"), name: "host_id")
        let after = try AuditController.integer(query.get("after_id"), name: "after_id", default: 0, range: 0...Int.max)
        let limit = try AuditController.integer(query.get("limit"), name: "limit", default: 100, range: 1...1000)
        let findings = try await scope.run(context) { connection in
            try await connection.query("""
                SELECT id, kind, target_id, host_id, file_path, location, detail, state, first_seen, last_seen, ended_at FROM findings
                WHERE customer_id = \(customerID) AND id > \(Int64(after))
                  AND (\(kind)::text IS NULL OR kind = \(kind)) AND (\(state)::text IS NULL OR state = \(state))
                  AND (\(targetID)::uuid IS NULL OR target_id = \(targetID)) AND (\(hostID)::uuid IS NULL OR host_id = \(hostID))
                ORDER BY id LIMIT \(limit)
                """, logger: context.logger)
                .collect().map { try $0.decode((Int64, String, UUID, UUID?, String?, String, String, String, Date, Date, Date?).self) }
                .map { Finding(id: $0.0, kind: $0.1, targetID: $0.2, hostID: $0.3, filePath: $0.4, location: $0.5, detail: $0.6,
                               state: $0.7, firstSeen: $0.8, lastSeen: $0.9, endedAt: $0.10) }
        }
        struct Page: Encodable {
            var findings: [Finding]
            var nextAfterID: Int64?
            enum CodingKeys: String, CodingKey {
                case findings
                case nextAfterID = "next_after_id"
            }
        }
        return try JSONResponse.make(status: .ok, Page(findings: findings, nextAfterID: findings.count == limit ? findings.last?.id : nil))
    }

    /// An admin accepts a finding (known, and to be left alone: no repair acts on it) or opens an accepted one again.
    func change(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        guard let id = context.parameters.get("findingID").flatMap(Int64.init), id > 0 else {
            throw APIError.badRequest("invalid_id", "findingID must be a positive integer")
        }
        struct Change: Decodable { var state: String }
        let change = try await request.decodeJSON(Change.self)
        guard ["accepted", "open"].contains(change.state) else { throw APIError.invalid("state", "must be accepted or open") }
        let from = change.state == "accepted" ? "open" : "accepted"
        let customerID = try context.tenant()
        let changed = try await scope.audited(context, action: "finding.\(change.state == "accepted" ? "accept" : "reopen")",
                                              target: "finding/\(id)") { connection in
            let rows = try await connection.query("""
                UPDATE findings SET state = \(change.state) WHERE customer_id = \(customerID) AND id = \(id) AND state = \(from)
                RETURNING id
                """, logger: context.logger).collect().map { try $0.decode(Int64.self) }
            if rows.isEmpty {
                let known = try await connection.query("SELECT state FROM findings WHERE customer_id = \(customerID) AND id = \(id)",
                                                       logger: context.logger).collect().map { try $0.decode(String.self) }
                guard let state = known.first else { throw APIError(.notFound, "not_found", "finding \(id) does not exist") }
                throw APIError(.conflict, "conflict", "finding \(id) is \(state); only an \(from) finding can become \(change.state)")
            }
            return rows.count
        }
        return try JSONResponse.make(status: .ok, ["id": id, "changed": Int64(changed)])
    }

    func reconcile(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        struct Ask: Decodable {
            var targetID: UUID
            var verify: ReconciliationPlanner.Verification?
            var checkStubs: Bool?
            enum CodingKeys: String, CodingKey {
                case verify
                case targetID = "target_id"
                case checkStubs = "check_stubs"
            }
        }
        let ask = try await request.decodeJSON(Ask.self)
        let customerID = try context.tenant()
        let requestedBy = try context.caller().auditName
        let samplePercent = samplePercent
        let runs = try await scope.audited(context, action: "reconciliation.request", target: "storage-target/\(ask.targetID)",
                                           details: ["verify": (ask.verify ?? .sample).rawValue]) { connection in
            guard let runs = try await ReconciliationPlanner.plan(target: ask.targetID, customerID: customerID, verification: ask.verify ?? .sample,
                                                                  samplePercent: samplePercent, checkStubs: ask.checkStubs ?? true,
                                                                  requestedBy: requestedBy,
                                                                  on: connection, logger: context.logger) else {
                throw APIError(.notFound, "not_found", "storage target \(ask.targetID) does not exist")
            }
            return runs
        }
        return try JSONResponse.make(status: .accepted, ["runs": runs])
    }

    func run(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let runID = try context.parameters.uuid("runID")
        let customerID = try context.tenant()
        struct Run: Encodable {
            var id: UUID
            var targetID: UUID
            var hostID: UUID
            var scope: String
            var verify: String
            var state: String
            var objectsListed: Int64
            var copiesVerified: Int64
            var stubsChecked: Int64
            var error: String?
            var createdAt: Date
            var mergedAt: Date?
            enum CodingKeys: String, CodingKey {
                case id, scope, verify, state, error
                case targetID = "target_id"
                case hostID = "host_id"
                case objectsListed = "objects_listed"
                case copiesVerified = "copies_verified"
                case stubsChecked = "stubs_checked"
                case createdAt = "created_at"
                case mergedAt = "merged_at"
            }
        }
        let runs = try await scope.run(context) { connection in
            try await connection.query("""
                SELECT id, target_id, host_id, scope, verify, state, objects_listed, copies_verified, stubs_checked, error, created_at, merged_at
                FROM reconciliation_runs WHERE customer_id = \(customerID) AND id = \(runID)
                """, logger: context.logger)
                .collect().map { try $0.decode((UUID, UUID, UUID, String, String, String, Int64, Int64, Int64, String?, Date, Date?).self) }
                .map { Run(id: $0.0, targetID: $0.1, hostID: $0.2, scope: $0.3, verify: $0.4, state: $0.5, objectsListed: $0.6,
                           copiesVerified: $0.7, stubsChecked: $0.8, error: $0.9, createdAt: $0.10, mergedAt: $0.11) }
        }
        guard let run = runs.first else { throw APIError(.notFound, "not_found", "reconciliation run \(runID) does not exist") }
        return try JSONResponse.make(status: .ok, run)
    }

    static func oneOf(_ text: String?, _ values: [String], name: String) throws -> String? {
        guard let text else { return nil }
        guard values.contains(text) else { throw APIError.invalid(name, "must be one of " + values.joined(separator: ", ")) }
        return text
    }

    static func uuid(_ text: String?, name: String) throws -> UUID? {
        guard let text else { return nil }
        guard let id = UUID(uuidString: text) else { throw APIError.invalid(name, "must be a UUID") }
        return id
    }
}
