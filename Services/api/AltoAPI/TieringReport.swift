import Foundation
import Logging
import PostgresNIO

/// What a tenant's admin wants to see after tiering: how much moved, how much disk came back, and where files went.
struct TieringReport: Encodable {
    struct Stub: Encodable {
        var path: String
        var size: Int64
        var location: String
        var hash: String
    }

    var files: Int64
    var stubbedFiles: Int64
    var tieredBytes: Int64
    var bytesSaved: Int64
    var jobs: [String: Int64]
    var stubs: [Stub]

    enum CodingKeys: String, CodingKey {
        case files
        case stubbedFiles = "stubbed_files"
        case tieredBytes = "tiered_bytes"
        case bytesSaved = "bytes_saved"
        case jobs, stubs
    }

    static func load(customerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> TieringReport {
        var report = TieringReport(files: 0, stubbedFiles: 0, tieredBytes: 0, bytesSaved: 0, jobs: [:], stubs: [])
        for try await (files, stubbed, tiered) in try await connection.query("""
            SELECT count(*), count(*) FILTER (WHERE is_stubbed), coalesce(sum(file_size) FILTER (WHERE is_stubbed), 0)::bigint
            FROM file_inventory WHERE customer_id = \(customerID) AND deleted_at IS NULL
            """, logger: logger).decode((Int64, Int64, Int64).self) {
            report.files = files
            report.stubbedFiles = stubbed
            report.tieredBytes = tiered
        }
        for try await (state, count, saved) in try await connection.query("""
            SELECT state, count(*), coalesce(sum(bytes_saved), 0)::bigint FROM tiering_jobs
            WHERE customer_id = \(customerID) GROUP BY state
            """, logger: logger).decode((String, Int64, Int64).self) {
            report.jobs[state] = count
            report.bytesSaved += saved
        }
        for try await (path, size, location, hash) in try await connection.query("""
            SELECT file_path, size, tiered_location, hash FROM stub_registry
            WHERE customer_id = \(customerID) AND state = 'active' ORDER BY file_path LIMIT 1000
            """, logger: logger).decode((String, Int64, String, String).self) {
            report.stubs.append(Stub(path: path, size: size, location: location, hash: hash))
        }
        return report
    }
}
