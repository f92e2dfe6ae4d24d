import Foundation
import Logging
import PostgresNIO

/// One host's additions to the daily savings series (`savings_daily`), gathered per target while an agent's result
/// or a reconciliation is recorded and written in the same transaction, one statement per target, so the
/// dashboard's figures move exactly when the stubs do.
public struct SavingsSeries: Sendable {
    struct Change {
        var filesTiered: Int64 = 0
        var bytesTiered: Int64 = 0
        var filesRecalled: Int64 = 0
        var bytesRecalled: Int64 = 0
        var filesRemoved: Int64 = 0
        var bytesSaved: Int64 = 0
    }

    private var changes: [UUID: Change] = [:]

    public init() {}

    /// A file tiered to `target`: `bytes` is its size, `freed` the disk bytes its stub gave back.
    public mutating func addTiered(target: UUID, bytes: Int64, freed: Int64) {
        changes[target, default: Change()].filesTiered += 1
        changes[target, default: Change()].bytesTiered += bytes
        changes[target, default: Change()].bytesSaved += freed
    }

    /// A stub tiered again in place (a result sent twice, a copy made again): only the change in what it freed.
    public mutating func addRetiered(target: UUID, freedChange: Int64) {
        changes[target, default: Change()].bytesSaved += freedChange
    }

    /// A stub of `target` recalled: the disk bytes it had freed are taken again.
    public mutating func addRecalled(target: UUID, bytes: Int64, freed: Int64) {
        changes[target, default: Change()].filesRecalled += 1
        changes[target, default: Change()].bytesRecalled += bytes
        changes[target, default: Change()].bytesSaved -= freed
    }

    /// A stub whose file a user deleted: the file would take no disk now either, so it saves nothing any more.
    public mutating func addRemoved(target: UUID, freed: Int64) {
        changes[target, default: Change()].filesRemoved += 1
        changes[target, default: Change()].bytesSaved -= freed
    }

    /// Adds the changes to today's (UTC) rows of the host.
    public func record(customerID: UUID, hostID: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        for (targetID, change) in changes.sorted(by: { $0.key.uuidString < $1.key.uuidString }) {
            try await connection.query("""
                INSERT INTO savings_daily AS series (customer_id, day, host_id, target_id, files_tiered, bytes_tiered,
                                                     files_recalled, bytes_recalled, files_removed, bytes_saved)
                VALUES (\(customerID), (now() AT TIME ZONE 'UTC')::date, \(hostID), \(targetID), \(change.filesTiered),
                        \(change.bytesTiered), \(change.filesRecalled), \(change.bytesRecalled), \(change.filesRemoved),
                        \(change.bytesSaved))
                ON CONFLICT (customer_id, day, host_id, target_id) DO UPDATE SET
                    files_tiered = series.files_tiered + EXCLUDED.files_tiered,
                    bytes_tiered = series.bytes_tiered + EXCLUDED.bytes_tiered,
                    files_recalled = series.files_recalled + EXCLUDED.files_recalled,
                    bytes_recalled = series.bytes_recalled + EXCLUDED.bytes_recalled,
                    files_removed = series.files_removed + EXCLUDED.files_removed,
                    bytes_saved = series.bytes_saved + EXCLUDED.bytes_saved
                """, logger: logger)
        }
    }
}
