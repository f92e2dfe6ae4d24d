import Foundation

/// What a finished scan left in the agent's spool (`<spool>/<scan id>/manifest.json`): its batches in order and its
/// counts. Written last, so a scan folder without one is a scan that never finished, and its batches are not
/// uploaded. Shared so tools can prepare a spool the agent uploads as its own.
public struct ScanManifest: Codable, Sendable {
    public struct Batch: Codable, Sendable {
        public var index: Int
        public var batchID: UUID
        /// The batch file's name within the scan folder.
        public var file: String
        public var rows: Int
        /// The file's size, compressed.
        public var bytes: Int
        public var kind: IngestJob.Kind

        public init(index: Int, batchID: UUID, file: String, rows: Int, bytes: Int, kind: IngestJob.Kind = .files) {
            self.index = index
            self.batchID = batchID
            self.file = file
            self.rows = rows
            self.bytes = bytes
            self.kind = kind
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(index: try container.decode(Int.self, forKey: .index), batchID: try container.decode(UUID.self, forKey: .batchID),
                      file: try container.decode(String.self, forKey: .file), rows: try container.decode(Int.self, forKey: .rows),
                      bytes: try container.decode(Int.self, forKey: .bytes),
                      kind: try container.decodeIfPresent(IngestJob.Kind.self, forKey: .kind) ?? .files)
        }

        enum CodingKeys: String, CodingKey {
            case index
            case batchID = "batch_id"
            case file, rows, bytes, kind
        }
    }

    public var scanID: UUID
    public var roots: [String]
    public var startedAt: Date
    public var finishedAt: Date
    public var isFullScan: Bool
    public var compression: IngestJob.Compression
    public var batches: [Batch]
    public var summary: ScanSummary
    public var listing: IngestJob.Listing

    public static let fileName = "manifest.json"

    public init(scanID: UUID, roots: [String], startedAt: Date, finishedAt: Date, isFullScan: Bool,
                compression: IngestJob.Compression, batches: [Batch], summary: ScanSummary, listing: IngestJob.Listing = .complete) {
        self.scanID = scanID
        self.roots = roots
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.isFullScan = isFullScan
        self.compression = compression
        self.batches = batches
        self.summary = summary
        self.listing = listing
    }

    /// Scans spooled before listings of changes existed list every file.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(scanID: try container.decode(UUID.self, forKey: .scanID), roots: try container.decode([String].self, forKey: .roots),
                  startedAt: try container.decode(Date.self, forKey: .startedAt),
                  finishedAt: try container.decode(Date.self, forKey: .finishedAt),
                  isFullScan: try container.decode(Bool.self, forKey: .isFullScan),
                  compression: try container.decode(IngestJob.Compression.self, forKey: .compression),
                  batches: try container.decode([Batch].self, forKey: .batches),
                  summary: try container.decode(ScanSummary.self, forKey: .summary),
                  listing: try container.decodeIfPresent(IngestJob.Listing.self, forKey: .listing) ?? .complete)
    }

    enum CodingKeys: String, CodingKey {
        case scanID = "scan_id"
        case roots
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case isFullScan = "is_full_scan"
        case compression, batches, summary, listing
    }
}

/// The counts a scan reports: what it wrote, and what it could not or would not read.
public struct ScanSummary: Codable, Sendable, Equatable {
    public var files = 0
    public var bytes: Int64 = 0
    public var directories = 0
    /// Entries that could not be opened or read (permissions, I/O errors); the walk goes on past them.
    public var unreadable = 0
    /// Entries that were gone by the time they were read: deleted during the scan.
    public var vanished = 0
    /// Mount points below a root, skipped to stay on one file system.
    public var otherFileSystems = 0
    public var excluded = 0
    public var hashed = 0
    /// The first few unreadable paths, for the report.
    public var unreadableSamples: [String] = []

    public init() {}

    public mutating func add(_ other: ScanSummary) {
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
