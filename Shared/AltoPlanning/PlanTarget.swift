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
    /// The target's whole bandwidth limit, which all of its concurrent transfers share.
    public var bandwidthBytesPerSecond: Int64

    public init(reference: StorageTargetReference, name: String, bandwidthBytesPerSecond: Int64) {
        self.reference = reference
        self.name = name
        self.bandwidthBytesPerSecond = bandwidthBytesPerSecond
    }

    /// Seconds to move `bytes` at the target's bandwidth.
    public func transferSeconds(_ bytes: Int64) -> Double {
        Double(bytes) / Double(bandwidthBytesPerSecond)
    }

    /// The tenant's live targets by id.
    public static func load(customerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [UUID: PlanTarget] {
        var targets: [UUID: PlanTarget] = [:]
        let rows = try await connection.query("""
            SELECT id, name, kind, location, bandwidth_bytes_per_second, settings->>'compression' FROM storage_targets
            WHERE customer_id = \(customerID) AND deleted_at IS NULL
            """, logger: logger)
        for try await (id, name, kind, location, bandwidth, compression) in rows.decode((UUID, String, String, String, Int64?, String?).self) {
            guard let kind = StorageTargetReference.Kind(rawValue: kind) else { continue }
            targets[id] = PlanTarget(reference: StorageTargetReference(id: id, kind: kind, location: location, compression: compression),
                                     name: name,
                                     bandwidthBytesPerSecond: bandwidth ?? defaultBandwidth)
        }
        return targets
    }
}
