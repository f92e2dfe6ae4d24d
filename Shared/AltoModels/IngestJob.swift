import Foundation

/// A staged scan batch waiting to be loaded into the inventory (`ingest.jobs`).
public struct IngestJob: EnvelopePayload {
    public static let messageType = "ingest.job"

    public enum Compression: String, Codable, Sendable {
        case none, gzip, zstd
    }

    /// What a full scan's batches list: every file (`complete`; the files it does not list are retired), or only
    /// the files that changed since the agent's previous scan and, in batches of `deletions`, the keys of those it
    /// no longer found (`changes`).
    public enum Listing: String, Codable, Sendable {
        case complete, changes
    }

    public enum Kind: String, Codable, Sendable {
        case files, deletions
    }

    /// The staged upload; also the idempotency key of the ingest.
    public var batchID: UUID
    /// Every batch of one scan shares it; the last batch of a full scan lets ingest retire unseen files.
    public var scanID: UUID
    public var batchIndex: Int
    public var isFinalBatch: Bool
    public var isFullScan: Bool
    public var compression: Compression
    public var byteCount: Int
    public var scanStartedAt: Date
    public var listing: Listing
    public var kind: Kind

    public init(batchID: UUID, scanID: UUID, batchIndex: Int = 0, isFinalBatch: Bool = true, isFullScan: Bool = true,
                compression: Compression = .none, byteCount: Int, scanStartedAt: Date, listing: Listing = .complete,
                kind: Kind = .files) {
        self.batchID = batchID
        self.scanID = scanID
        self.batchIndex = batchIndex
        self.isFinalBatch = isFinalBatch
        self.isFullScan = isFullScan
        self.compression = compression
        self.byteCount = byteCount
        self.scanStartedAt = scanStartedAt
        self.listing = listing
        self.kind = kind
    }

    /// Jobs published before listings of changes existed list every file.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        batchID = try container.decode(UUID.self, forKey: .batchID)
        scanID = try container.decode(UUID.self, forKey: .scanID)
        batchIndex = try container.decode(Int.self, forKey: .batchIndex)
        isFinalBatch = try container.decode(Bool.self, forKey: .isFinalBatch)
        isFullScan = try container.decode(Bool.self, forKey: .isFullScan)
        compression = try container.decode(Compression.self, forKey: .compression)
        byteCount = try container.decode(Int.self, forKey: .byteCount)
        scanStartedAt = try container.decode(Date.self, forKey: .scanStartedAt)
        listing = try container.decodeIfPresent(Listing.self, forKey: .listing) ?? .complete
        kind = try container.decodeIfPresent(Kind.self, forKey: .kind) ?? .files
    }

    enum CodingKeys: String, CodingKey {
        case batchID = "batch_id"
        case scanID = "scan_id"
        case batchIndex = "batch_index"
        case isFinalBatch = "is_final_batch"
        case isFullScan = "is_full_scan"
        case compression
        case byteCount = "byte_count"
        case scanStartedAt = "scan_started_at"
        case listing, kind
    }
}
