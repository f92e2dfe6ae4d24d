import AltoModels
import Foundation

/// What a finished scan left in the spool: its batches in order and its counts. Written last, so a scan folder
/// without one is a scan that never finished, and its batches are not uploaded.
struct ScanManifest: Codable, Sendable {
    struct Batch: Codable, Sendable {
        var index: Int
        var batchID: UUID
        var file: String
        var rows: Int
        var bytes: Int

        enum CodingKeys: String, CodingKey {
            case index
            case batchID = "batch_id"
            case file, rows, bytes
        }
    }

    var scanID: UUID
    var roots: [String]
    var startedAt: Date
    var finishedAt: Date
    var isFullScan: Bool
    var compression: IngestJob.Compression
    var batches: [Batch]
    var summary: ScanSummary

    static let fileName = "manifest.json"

    enum CodingKeys: String, CodingKey {
        case scanID = "scan_id"
        case roots
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case isFullScan = "is_full_scan"
        case compression, batches, summary
    }
}

/// The counts a scan reports: what it wrote, and what it could not or would not read.
struct ScanSummary: Codable, Sendable, Equatable {
    var files = 0
    var bytes: Int64 = 0
    var directories = 0
    /// Entries that could not be opened or read (permissions, I/O errors); the walk goes on past them.
    var unreadable = 0
    /// Entries that were gone by the time they were read: deleted during the scan.
    var vanished = 0
    /// Mount points below a root, skipped to stay on one file system.
    var otherFileSystems = 0
    var excluded = 0
    var hashed = 0
    /// The first few unreadable paths, for the report.
    var unreadableSamples: [String] = []

    mutating func add(_ other: ScanSummary) {
        files += other.files
        bytes += other.bytes
        directories += other.directories
        unreadable += other.unreadable
        vanished += other.vanished
        otherFileSystems += other.otherFileSystems
        excluded += other.excluded
        hashed += other.hashed
        unreadableSamples.append(contentsOf: other.unreadableSamples.prefix(max(0, 20 - unreadableSamples.count)))
    }

    enum CodingKeys: String, CodingKey {
        case files, bytes, directories, unreadable, vanished
        case otherFileSystems = "other_file_systems"
        case excluded, hashed
        case unreadableSamples = "unreadable_samples"
    }
}
