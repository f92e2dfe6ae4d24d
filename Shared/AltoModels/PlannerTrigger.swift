import Foundation

/// Asks the planner to evaluate one host's inventory against its tenant's rules (`planner.jobs`).
public struct PlannerTrigger: EnvelopePayload {
    public static let messageType = "planner.trigger"

    public enum Reason: String, Codable, Sendable {
        case ingest, admin, schedule, watermark
    }

    public var reason: Reason
    /// The batch whose ingest caused this plan, when an ingest did.
    public var batchID: UUID?
    /// Caps an admin set for this run, across all rules.
    public var maxFiles: Int?
    public var maxBytes: Int64?

    public init(reason: Reason, batchID: UUID? = nil, maxFiles: Int? = nil, maxBytes: Int64? = nil) {
        self.reason = reason
        self.batchID = batchID
        self.maxFiles = maxFiles
        self.maxBytes = maxBytes
    }

    enum CodingKeys: String, CodingKey {
        case reason
        case batchID = "batch_id"
        case maxFiles = "max_files"
        case maxBytes = "max_bytes"
    }
}
