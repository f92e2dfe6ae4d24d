import AltoAMQP
import AltoModels
import AltoRuntime
import AltoStore
import AltoTiering
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// What an agent reports of a reconciliation run the sanitizer sent it: its rows, a page at a time, staged for the
/// sanitizer's merge; its totals, which end the run and queue the merge on `sanitizer.jobs`; and, to check its
/// side, the stubs the registry knows on its host. A run is only ever the reporting host's own, and only while it
/// is open.
struct AgentReconciliationController: Sendable {
    let postgres: PostgresClient

    func add(to router: Router<AltoRequestContext>) {
        router.post("/api/v1/agent/reconciliations/:runID/rows") { request, context in try await rows(request, context) }
        router.post("/api/v1/agent/reconciliations/:runID/complete") { request, context in try await complete(request, context) }
        router.get("/api/v1/agent/stubs") { request, context in try await stubs(request, context) }
    }

    func rows(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let (customerID, hostID, runID) = try identify(request, context)
        let report = try await request.decodeJSON(ReconciliationReport.self, limit: 32 << 20)
        guard report.rows.count <= ReconciliationReport.maximumRows else {
            throw APIError.invalid("rows", "at most \(ReconciliationReport.maximumRows) rows a page")
        }
        if let row = report.rows.first(where: { $0.location.isEmpty || $0.key.isEmpty }) {
            throw APIError.invalid("rows", "a row needs a location and a key: \(row.location.prefix(200))")
        }
        if let row = report.rows.first(where: { $0.kind == .stub && !Self.stubOutcomes.contains($0.outcome ?? "") }) {
            throw APIError.invalid("rows", "a stub's outcome is one of \(Self.stubOutcomes.sorted().joined(separator: ", ")), not \(row.outcome ?? "none")")
        }
        if let row = report.rows.first(where: { ($0.outcome == "moved") != ($0.movedTo.map { !$0.isEmpty } ?? false) }) {
            throw APIError.invalid("rows", "a moved stub, and only one, names where it is now: \(row.key.prefix(200))")
        }
        if let row = report.rows.first(where: { $0.kind == .described && !Self.describedOutcomes.contains($0.outcome ?? "") }) {
            throw APIError.invalid("rows", "a described copy's outcome is active, deleted or refused, not \(row.outcome ?? "none")")
        }
        if let row = report.rows.first(where: { ($0.kind == .described && $0.outcome != "refused") != ($0.entry != nil) }) {
            throw APIError.invalid("rows", "a described copy, and only one, gives the registry row its description describes, unless refused: \(row.location.prefix(200))")
        }
        try await postgres.withTenant(customerID, logger: context.logger) { connection in
            let scope = try await Self.requireOpen(runID, customerID: customerID, hostID: hostID, on: connection, logger: context.logger)
            // An object is the tenant's, and in a host's own listing, that host's: a row naming another is refused.
            let tenant = customerID.uuidString.lowercased()
            let host = hostID.uuidString.lowercased()
            if scope == "stubs", report.rows.contains(where: { $0.kind == .object }) {
                throw APIError.invalid("rows", "a run that checks stubs lists no objects")
            }
            if let row = report.rows.first(where: { row in
                guard row.kind == .object else { return false }
                let parts = row.key.split(separator: "/", omittingEmptySubsequences: false)
                return parts.first.map(String.init) != tenant || (scope == "host" && TierObject.host(inKey: row.key) != host[...])
                    || parts.contains("..") || parts.contains(".")
            }) {
                throw APIError.invalid("rows", "the object \(row.key.prefix(200)) is not one of this \(scope == "host" ? "host" : "tenant")'s copies")
            }
            let rows = report.rows
            // The arrays cannot carry NULLs: an empty text or -1 stands for none.
            try await connection.query("""
                INSERT INTO scan_staging.reconciliation_rows (run_id, customer_id, kind, location, key, size, modified_at, outcome, detail,
                                                              moved_to, entry)
                SELECT \(runID), \(customerID), kind, location, key, nullif(size, -1), nullif(modified_at, '')::timestamptz,
                       nullif(outcome, ''), nullif(detail, ''), nullif(moved_to, ''), nullif(entry, '')::jsonb
                FROM unnest(\(rows.map(\.kind.rawValue)), \(rows.map(\.location)), \(rows.map(\.key)), \(rows.map { $0.size ?? -1 }),
                            \(rows.map { $0.modifiedAt.map(RFC3339.format) ?? "" }), \(rows.map { $0.outcome ?? "" }),
                            \(rows.map { $0.detail ?? "" }), \(rows.map { $0.movedTo ?? "" }), \(try rows.map(Self.entryJSON)))
                     AS row (kind, location, key, size, modified_at, outcome, detail, moved_to, entry)
                """, logger: context.logger)
        }
        return try JSONResponse.make(status: .ok, ["accepted": report.rows.count])
    }

    func complete(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let (customerID, hostID, runID) = try identify(request, context)
        let completion = try await request.decodeJSON(ReconciliationReport.Completion.self)
        let state = try await postgres.withTenant(customerID, logger: context.logger) { connection -> String in
            let updated = try await connection.query("""
                UPDATE reconciliation_runs SET state = CASE WHEN \(completion.error)::text IS NULL THEN 'listed' ELSE 'failed' END,
                    listed_at = now(), objects_listed = \(completion.objectsListed), copies_verified = \(completion.copiesVerified),
                    stubs_checked = \(completion.stubsChecked), error = \(completion.error)
                WHERE id = \(runID) AND customer_id = \(customerID) AND host_id = \(hostID) AND state = 'sent'
                RETURNING state
                """, logger: context.logger).collect().map { try $0.decode(String.self) }
            guard let state = updated.first else {
                // Sent again by an agent that lost the answer: the run is already past this.
                let known = try await connection.query("""
                    SELECT state FROM reconciliation_runs WHERE id = \(runID) AND customer_id = \(customerID) AND host_id = \(hostID)
                    """, logger: context.logger).collect().map { try $0.decode(String.self) }
                guard let state = known.first else { throw Self.unknown(runID) }
                return state
            }
            if state == "listed" {
                try await Outbox.enqueue(Envelope(customerID: customerID, hostID: hostID, payload: ReconciliationListed(runID: runID)),
                                         queue: AMQPTopology.sanitizerJobs, on: connection, logger: context.logger)
            } else {
                try await connection.query("DELETE FROM scan_staging.reconciliation_rows WHERE run_id = \(runID)", logger: context.logger)
            }
            return state
        }
        context.logger.info("reconciliation reported", metadata: ["run": "\(runID)", "host": "\(hostID)", "state": "\(state)",
                                                                 "objects": "\(completion.objectsListed)"])
        return try JSONResponse.make(status: .ok, ["state": state])
    }

    /// The host's active stubs on a target, in path order, a page at a time (`after` the last path of the previous).
    func stubs(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let hostID = try context.agentHost(named: try request.optionalUUIDHeader("X-Alto-Host-Id"))
        let customerID = try context.tenant()
        let query = request.uri.queryParameters
        guard let targetID = try FindingController.uuid(query.get("target_id"), name: "target_id") else {
            throw APIError.invalid("target_id", "must name the target, a UUID")
        }
        let after = query.get("after") ?? ""
        let limit = try AuditController.integer(query.get("limit"), name: "limit", default: 5000, range: 1...ReconciliationReport.maximumRows)
        let stubs = try await postgres.withTenant(customerID, logger: context.logger) { connection in
            let known = try await connection.query("""
                SELECT 1 FROM storage_targets WHERE customer_id = \(customerID) AND id = \(targetID)
                """, logger: context.logger).collect()
            guard !known.isEmpty else { throw APIError(.notFound, "not_found", "storage target \(targetID) does not exist") }
            return try await connection.query("""
                SELECT file_path, tiered_location, hash, stub_handle FROM stub_registry
                WHERE customer_id = \(customerID) AND host_id = \(hostID) AND target_id = \(targetID) AND state = 'active'
                  AND file_path > \(after)
                ORDER BY file_path LIMIT \(limit)
                """, logger: context.logger).collect().map { try $0.decode((String, String, String, String?).self) }
                .map { ReconciliationReport.StubPage.Stub(filePath: $0.0, location: $0.1, hash: $0.2, handle: $0.3) }
        }
        let page = ReconciliationReport.StubPage(stubs: stubs, next: stubs.count == limit ? stubs.last?.filePath : nil)
        return try JSONResponse.make(status: .ok, page)
    }

    /// What an agent may report of a stub: gone or changed (checks), moved (checks and purges), purged or kept
    /// (purges), remade or kept (copies made again).
    static let stubOutcomes: Set<String> = ["missing", "differs", "moved", "purged", "kept", "remade"]

    static let describedOutcomes: Set<String> = ["active", "deleted", "refused"]

    /// A described copy's registry row as JSON for the staging table, empty for none.
    static func entryJSON(_ row: ReconciliationReport.Row) throws -> String {
        guard let entry = row.entry else { return "" }
        return String(decoding: try AltoJSON.encoder().encode(entry), as: UTF8.self)
    }

    private func identify(_ request: Request, _ context: AltoRequestContext) throws -> (UUID, UUID, UUID) {
        let hostID = try context.agentHost(named: try request.optionalUUIDHeader("X-Alto-Host-Id"))
        return (try context.tenant(), hostID, try context.parameters.uuid("runID"))
    }

    /// The run must be this host's and still waiting for its report; any other is unknown to it. Returns its scope.
    static func requireOpen(_ runID: UUID, customerID: UUID, hostID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> String {
        let open = try await connection.query("""
            SELECT scope FROM reconciliation_runs WHERE id = \(runID) AND customer_id = \(customerID) AND host_id = \(hostID) AND state = 'sent'
            FOR SHARE
            """, logger: logger).collect().map { try $0.decode(String.self) }
        guard let scope = open.first else { throw unknown(runID) }
        return scope
    }

    static func unknown(_ runID: UUID) -> APIError {
        APIError(.notFound, "not_found", "reconciliation run \(runID) is not one this host has open")
    }
}
