import Foundation

/// A staged scan batch waiting to be loaded into the inventory (`ingest.jobs`).
public struct IngestJob: EnvelopePayload {
    public static let messageType = "ingest.job"

    public enum Compression: String, Codable, Sendable {
        case none, gzip, zstd
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

    public init(batchID: UUID, scanID: UUID, batchIndex: Int = 0, isFinalBatch: Bool = true, isFullScan: Bool = true,
                compression: Compression = .none, byteCount: Int, scanStartedAt: Date) {
        self.batchID = batchID
        self.scanID = scanID
        self.batchIndex = batchIndex
        self.isFinalBatch = isFinalBatch
        self.isFullScan = isFullScan
        self.compression = compression
        self.byteCount = byteCount
        self.scanStartedAt = scanStartedAt
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
    }
}
