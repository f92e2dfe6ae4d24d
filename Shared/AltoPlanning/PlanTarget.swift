import AltoModels
import Foundation
import Logging
import PostgresNIO

/// A tier-2 target as a plan needs it: where jobs go and how fast they can get there.
public struct PlanTarget: Sendable, Equatable {
    /// Estimates use this when a target has no bandwidth limit configured: a gigabit link, roughly.
    public static let defaultBandwidth: Int64 = 100 << 20

    public var reference: StorageTargetReference
    public var name: String
    /// The bandwidth estimates assume: the target's limit, or `defaultBandwidth` when it has none.
    public var bandwidthBytesPerSecond: Int64
    /// The target's own limit, which the agent enforces; nil for none.
    public var bandwidthLimit: Int64?

    public init(reference: StorageTargetReference, name: String, bandwidthLimit: Int64?) {
        self.reference = reference
        self.name = name
        self.bandwidthLimit = bandwidthLimit
        bandwidthBytesPerSecond = bandwidthLimit ?? Self.defaultBandwidth
    }

    /// Seconds to move `bytes` at the target's bandwidth.
    public func transferSeconds(_ bytes: Int64) -> Double {
        Double(bytes) / Double(bandwidthBytesPerSecond)
    }

    /// The tenant's live targets by id.
    public static func load(customerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [UUID: PlanTarget] {
        var targets: [UUID: PlanTarget] = [:]
        let rows = try await connection.query("""
            SELECT id, name, kind, location, bandwidth_bytes_per_second, settings::text, secrets::text FROM storage_targets
            WHERE customer_id = \(customerID) AND deleted_at IS NULL
            """, logger: logger)
        for try await (id, name, kind, location, bandwidth, settings, secrets) in rows.decode((UUID, String, String, String, Int64?, String, String).self) {
            let reference = StorageTargetReference(id: id, kind: StorageTargetReference.Kind(rawValue: kind), location: location,
                                                   settingsJSON: settings, secretsJSON: secrets)
            targets[id] = PlanTarget(reference: reference, name: name, bandwidthLimit: bandwidth)
        }
        return targets
    }
}
