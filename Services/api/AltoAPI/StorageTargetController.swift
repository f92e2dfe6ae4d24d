import AltoKeys
import AltoModels
import AltoRuntime
import AltoTiering
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// `/api/v1/storage-targets`: where a tenant's tier-2 copies go, with the bandwidth and concurrency limits that plan
/// estimates use. Each kind's `StorageKind` says what a target needs; credentials are accepted in `settings` like
/// any other setting, stored apart, each encrypted with the tenant's key (only the agent opens them), and never
/// returned: an answer lists only the names that are set.
struct StorageTargetController: Sendable {
    let scope: TenantScope
    /// Encrypts each credential with the tenant's key before it is stored; nil keeps them as given.
    let keys: (any KeyProvider)?

    struct TargetBody: Codable {
        var name: String
        var kind: StorageTargetReference.Kind
        var location: String
        var settings: [String: String]?
        var bandwidthBytesPerSecond: Int64?
        var maxConcurrency: Int?
        enum CodingKeys: String, CodingKey {
            case name, kind, location, settings
            case bandwidthBytesPerSecond = "bandwidth_bytes_per_second"
            case maxConcurrency = "max_concurrency"
        }
    }

    struct Target: Codable {
        var id: UUID
        var name: String
        var kind: String
        var location: String
        var settings: [String: String]
        var secrets: [String]
        var bandwidthBytesPerSecond: Int64?
        var maxConcurrency: Int?
        enum CodingKeys: String, CodingKey {
            case id, name, kind, location, settings, secrets
            case bandwidthBytesPerSecond = "bandwidth_bytes_per_second"
            case maxConcurrency = "max_concurrency"
        }
    }

    struct TargetList: Encodable { var storageTargets: [Target]
        enum CodingKeys: String, CodingKey { case storageTargets = "storage_targets" }
    }

    func add(to router: Router<AltoRequestContext>) {
        let targets = router.group("/api/v1/storage-targets")
        targets.post { request, context in try await save(request, context, id: nil) }
        targets.get { _, context in try await list(context) }
        targets.get(":targetID") { request, context in try await read(request, context) }
        targets.put(":targetID") { request, context in try await save(request, context, id: try context.parameters.uuid("targetID")) }
        targets.delete(":targetID") { request, context in try await delete(request, context) }
    }

    func save(_ request: Request, _ context: AltoRequestContext, id: UUID?) async throws -> Response {
        let customerID = try context.tenant()
        let logger = context.logger
        let body = try await request.decodeJSON(TargetBody.self)
        let kind = try Self.kind(of: body)
        let targetID = id ?? UUID()
        let stored = try await id == nil ? [] : storedCredentials(targetID, kind: body.kind, context)
        try Self.validate(body, kind: kind, storedCredentials: stored)
        let secretNames = kind.secretNames
        let settings = (body.settings ?? [:]).filter { !secretNames.contains($0.key) }
        // An empty credential is one not sent: an update keeps the one stored.
        let secrets = try await encrypted((body.settings ?? [:]).filter { secretNames.contains($0.key) && !$0.value.isEmpty },
                                          tenant: customerID)
        let settingsJSON = String(decoding: try JSONEncoder().encode(settings), as: UTF8.self)
        let secretsJSON = String(decoding: try JSONEncoder().encode(secrets), as: UTF8.self)
        do {
            let target = try await scope.audited(context, action: id == nil ? "storage_target.create" : "storage_target.update",
                                                 target: "storage_target/\(targetID)") { connection -> Target? in
                let sql: PostgresQuery = id == nil ? """
                    INSERT INTO storage_targets (id, customer_id, name, kind, location, settings, secrets,
                        bandwidth_bytes_per_second, max_concurrency)
                    VALUES (\(targetID), \(customerID), \(body.name), \(body.kind.rawValue), \(body.location),
                        \(settingsJSON)::jsonb, \(secretsJSON)::jsonb, \(body.bandwidthBytesPerSecond), \(body.maxConcurrency))
                    RETURNING id
                    """ : """
                    UPDATE storage_targets SET name = \(body.name), kind = \(body.kind.rawValue), location = \(body.location),
                        settings = \(settingsJSON)::jsonb,
                        secrets = CASE WHEN kind = \(body.kind.rawValue) THEN secrets || \(secretsJSON)::jsonb ELSE \(secretsJSON)::jsonb END,
                        bandwidth_bytes_per_second = \(body.bandwidthBytesPerSecond), max_concurrency = \(body.maxConcurrency),
                        updated_at = now()
                    WHERE id = \(targetID) AND customer_id = \(customerID) AND deleted_at IS NULL
                    RETURNING id
                    """
                var written = false
                for try await _ in try await connection.query(sql, logger: logger) { written = true }
                guard written else { return nil }
                return try await load(targetID, customerID: customerID, on: connection, logger: logger)
            }
            guard let target else { throw Self.notFound(targetID) }
            return try JSONResponse.make(status: id == nil ? .created : .ok, target)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw APIError.invalid("name", "a storage target named \"\(body.name)\" already exists")
        }
    }

    func list(_ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let all = try await scope.run(context) { connection in
            try await targets(customerID: customerID, only: nil, on: connection, logger: context.logger)
        }
        return try JSONResponse.make(status: .ok, TargetList(storageTargets: all))
    }

    func read(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let id = try context.parameters.uuid("targetID")
        let target = try await scope.run(context) { connection in
            try await load(id, customerID: customerID, on: connection, logger: context.logger)
        }
        guard let target else { throw Self.notFound(id) }
        return try JSONResponse.make(status: .ok, target)
    }

    func delete(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let id = try context.parameters.uuid("targetID")
        let logger = context.logger
        try await scope.audited(context, action: "storage_target.delete", target: "storage_target/\(id)") { connection in
            for try await name in try await connection.query("""
                SELECT name FROM rules WHERE target_id = \(id) AND customer_id = \(customerID) AND deleted_at IS NULL LIMIT 1
                """, logger: logger).decode(String.self) {
                throw APIError(.conflict, "in_use", "storage target \(id) is the target of rule \"\(name)\"; change or delete the rule first")
            }
            var found = false
            for try await _ in try await connection.query("""
                UPDATE storage_targets SET deleted_at = now() WHERE id = \(id) AND customer_id = \(customerID) AND deleted_at IS NULL
                RETURNING id
                """, logger: logger) {
                found = true
            }
            guard found else { throw Self.notFound(id) }
        }
        return Response(status: .noContent)
    }

    private func targets(customerID: UUID, only id: UUID?, on connection: PostgresConnection, logger: Logger) async throws -> [Target] {
        var targets: [Target] = []
        let rows = try await connection.query("""
            SELECT id, name, kind, location, settings::text, ARRAY(SELECT jsonb_object_keys(secrets) ORDER BY 1),
                bandwidth_bytes_per_second, max_concurrency
            FROM storage_targets
            WHERE customer_id = \(customerID) AND deleted_at IS NULL AND (\(id)::uuid IS NULL OR id = \(id))
            ORDER BY name
            """, logger: logger)
        for try await (id, name, kind, location, settings, secrets, bandwidth, concurrency) in rows.decode(
            (UUID, String, String, String, String, [String], Int64?, Int?).self
        ) {
            targets.append(Target(id: id, name: name, kind: kind, location: location,
                                  settings: (try? JSONDecoder().decode([String: String].self, from: Data(settings.utf8))) ?? [:],
                                  secrets: secrets, bandwidthBytesPerSecond: bandwidth, maxConcurrency: concurrency))
        }
        return targets
    }

    private func load(_ id: UUID, customerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Target? {
        try await targets(customerID: customerID, only: id, on: connection, logger: logger).first
    }

    private func encrypted(_ secrets: [String: String], tenant: UUID) async throws -> [String: String] {
        guard let keys, !secrets.isEmpty else { return secrets }
        return try await APIError.keyProvider("encrypt the credentials") {
            var sealed: [String: String] = [:]
            for (name, value) in secrets { sealed[name] = try await keys.encrypt(Array(value.utf8), tenant: tenant) }
            return sealed
        }
    }

    /// The names of the credentials a target already keeps, when it keeps its kind: an update may leave them out.
    private func storedCredentials(_ id: UUID, kind: StorageTargetReference.Kind, _ context: AltoRequestContext) async throws -> Set<String> {
        let customerID = try context.tenant()
        let stored = try await scope.run(context) { connection in
            try await load(id, customerID: customerID, on: connection, logger: context.logger)
        }
        guard let stored, stored.kind == kind.rawValue else { return [] }
        return Set(stored.secrets)
    }

    static func kind(of body: TargetBody) throws -> StorageKind {
        guard let kind = StorageKind.named(body.kind) else {
            throw APIError.invalid("kind", "must be one of \(StorageKind.all.map(\.name.rawValue).joined(separator: ", ")), not \(body.kind)")
        }
        return kind
    }

    static func validate(_ body: TargetBody, kind: StorageKind, storedCredentials: Set<String>) throws {
        if body.name.trimmingCharacters(in: .whitespaces).isEmpty { throw APIError.invalid("name", "must not be empty") }
        if let bandwidth = body.bandwidthBytesPerSecond, bandwidth <= 0 {
            throw APIError.invalid("bandwidth_bytes_per_second", "must be above 0, got \(bandwidth)")
        }
        if let concurrency = body.maxConcurrency, concurrency <= 0 {
            throw APIError.invalid("max_concurrency", "must be above 0, got \(concurrency)")
        }
        if let (field, message) = kind.problem(location: body.location, settings: body.settings ?? [:], storedCredentials: storedCredentials) {
            throw APIError.invalid(field, message)
        }
    }

    static func notFound(_ id: UUID) -> APIError {
        APIError(.notFound, "not_found", "storage target \(id) does not exist")
    }
}
