import AltoKeys
import AltoRuntime
import AltoStore
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// `POST /api/v1/keys/rotate`: makes a new version of the tenant's key current and rewraps, with it, every
/// credential of the tenant's storage targets and every data key of its copies. No copy is rewritten: the data
/// keys stay the same, only their wrapping changes.
struct KeyController: Sendable {
    let scope: TenantScope
    let keys: (any KeyProvider)?
    /// Rows rewrapped per transaction.
    static let batch = 500
    static let again = "the rotation can be run again"

    func add(to router: Router<AltoRequestContext>) {
        router.post("/api/v1/keys/rotate") { _, context in try await rotate(context) }
    }

    struct Rotated: Encodable {
        var keyVersion: Int
        var rewrappedSecrets: Int
        var rewrappedDataKeys: Int
        enum CodingKeys: String, CodingKey {
            case keyVersion = "key_version", rewrappedSecrets = "rewrapped_secrets", rewrappedDataKeys = "rewrapped_data_keys"
        }
    }

    func rotate(_ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        guard let keys else {
            throw APIError(.conflict, "no_key_provider", "this API runs without a key provider (ALTO_KEY_PROVIDER=none)")
        }
        let version = try await APIError.keyProvider("rotate the key") { try await keys.rotate(tenant: customerID) }
        var result = Rotated(keyVersion: version, rewrappedSecrets: 0, rewrappedDataKeys: 0)
        result.rewrappedSecrets = try await rewrapSecrets(customerID, keys: keys, context: context)
        result.rewrappedDataKeys = try await rewrapDataKeys(customerID, keys: keys, context: context)
        try await scope.audited(context, action: "key.rotate", target: "customer/\(customerID)",
                                details: ["key_version": String(version), "rewrapped_secrets": String(result.rewrappedSecrets),
                                          "rewrapped_data_keys": String(result.rewrappedDataKeys)]) { _ in }
        return try JSONResponse.make(status: .ok, result)
    }

    private func rewrapSecrets(_ customerID: UUID, keys: any KeyProvider, context: AltoRequestContext) async throws -> Int {
        let targets = try await scope.run(context) { connection in
            var targets: [(UUID, [String: String])] = []
            for try await (id, text) in try await connection.query(
                "SELECT id, secrets::text FROM storage_targets WHERE customer_id = \(customerID) AND secrets <> '{}'",
                logger: context.logger).decode((UUID, String).self) {
                targets.append((id, (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]))
            }
            return targets
        }
        var count = 0
        for (id, secrets) in targets {
            var rewrapped: [String: String] = [:]
            for (name, value) in secrets {
                // A credential stored before encryption at rest is encrypted now.
                rewrapped[name] = LocalKeyProvider.isWrapped(value)
                    ? try await APIError.keyProvider("rewrap", advice: Self.again) { try await keys.rewrap(value, tenant: customerID) }
                    : try await APIError.keyProvider("encrypt", advice: Self.again) {
                        try await keys.encrypt(Array(value.utf8), tenant: customerID)
                    }
                count += 1
            }
            let json = String(decoding: try JSONEncoder().encode(rewrapped), as: UTF8.self)
            try await scope.run(context) { connection in
                _ = try await connection.query("UPDATE storage_targets SET secrets = \(json)::jsonb WHERE id = \(id) AND customer_id = \(customerID)",
                                               logger: context.logger)
            }
        }
        return count
    }

    /// Rewraps a batch at a time, from the lowest row id up, so a rotation of a large tenant commits as it goes.
    private func rewrapDataKeys(_ customerID: UUID, keys: any KeyProvider, context: AltoRequestContext) async throws -> Int {
        var after: Int64 = 0
        var count = 0
        while true {
            let rows = try await scope.run(context) { connection in
                var rows: [(Int64, String)] = []
                for try await row in try await connection.query("""
                    SELECT id, wrapped_key FROM stub_registry
                    WHERE customer_id = \(customerID) AND wrapped_key IS NOT NULL AND id > \(after) ORDER BY id LIMIT \(Self.batch)
                    """, logger: context.logger).decode((Int64, String).self) {
                    rows.append(row)
                }
                return rows
            }
            guard let last = rows.last else { return count }
            var ids: [Int64] = [], rewrapped: [String] = []
            for (id, wrapped) in rows {
                ids.append(id)
                rewrapped.append(try await APIError.keyProvider("rewrap", advice: Self.again) {
                    try await keys.rewrap(wrapped, tenant: customerID)
                })
            }
            let (batchIDs, batchKeys) = (ids, rewrapped)
            try await scope.run(context) { connection in
                _ = try await connection.query("""
                    UPDATE stub_registry SET wrapped_key = rewrapped.key
                    FROM unnest(\(batchIDs)::bigint[], \(batchKeys)::text[]) AS rewrapped(id, key)
                    WHERE stub_registry.id = rewrapped.id AND stub_registry.customer_id = \(customerID)
                    """, logger: context.logger)
            }
            count += rows.count
            after = last.0
        }
    }
}
