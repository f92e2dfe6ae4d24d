import Foundation

/// What an agent did with the files of one command (`agent.results`).
public struct AgentResult: EnvelopePayload {
    public static let messageType = "agent.result"

    public enum Action: String, Codable, Sendable {
        case tier, recall
        /// Something on the host that may be an attack on it, one file each, with the reason: kept in the audit trail.
        case security
    }

    public enum Outcome: String, Codable, Sendable {
        case tiered, recalled, skipped, failed
        /// Not attempted or not finished because the second tier was unavailable; the job goes back for later.
        case deferred
    }

    public struct File: Codable, Sendable, Equatable {
        public var fileID: Int64?
        public var filePath: String
        public var outcome: Outcome
        /// Why a file was skipped or failed, in words an admin can act on.
        public var reason: String?
        /// The same reason as one of a few fixed words (`in_use`, `storage_unavailable`, ...), which metrics and
        /// dashboards count by where the words would make a series of every message.
        public var reasonCode: String?
        public var hash: String?

        /// Every `reasonCode` an agent sends. The central services count by these and take any other word, from an
        /// agent of another version or one that misbehaves, as `other`, so no agent can make series without end.
        public static let reasonCodes: Set<String> = [
            "changed_since_scan", "in_use", "io", "hash_mismatch", "not_a_stub", "not_found", "untrusted_record",
            "outside_managed_roots", "storage_unavailable", "transient", "rejected", "no_stub_guard",
        ]

        /// `reasonCode` as a metric label: `none`, one of `reasonCodes`, or `other`.
        public var reasonLabel: String {
            reasonCode.map { Self.reasonCodes.contains($0) ? $0 : "other" } ?? "none"
        }
        public var size: Int64
        public var tieredLocation: String?
        /// Bytes the file occupied on disk before and after, so saved space is measured, not estimated.
        public var allocatedBefore: Int64?
        public var allocatedAfter: Int64?
        /// The copy's data key, wrapped by the tenant's key; nil for a copy stored in the clear.
        public var wrappedKey: String?
        /// Bytes the copy holds on the second tier (after compression and sealing), which a listing must show.
        public var storedBytes: Int64?
        /// The kernel's handle of the stub (`StubHandle`), which finds it again after a user moves it.
        public var stubHandle: String?

        public init(fileID: Int64?, filePath: String, outcome: Outcome, reason: String? = nil, hash: String? = nil,
                    size: Int64, tieredLocation: String? = nil, allocatedBefore: Int64? = nil, allocatedAfter: Int64? = nil) {
            self.fileID = fileID
            self.filePath = filePath
            self.outcome = outcome
            self.reason = reason
            self.hash = hash
            self.size = size
            self.tieredLocation = tieredLocation
            self.allocatedBefore = allocatedBefore
            self.allocatedAfter = allocatedAfter
        }

        enum CodingKeys: String, CodingKey {
            case fileID = "file_id"
            case filePath = "file_path"
            case outcome, reason, hash, size
            case reasonCode = "reason_code"
            case tieredLocation = "tiered_location"
            case allocatedBefore = "allocated_before"
            case allocatedAfter = "allocated_after"
            case wrappedKey = "wrapped_key"
            case storedBytes = "stored_bytes"
            case stubHandle = "stub_handle"
        }
    }

    public var jobID: UUID?
    public var action: Action
    public var targetID: UUID?
    public var files: [File]
    public var finishedAt: Date

    public init(jobID: UUID?, action: Action, targetID: UUID?, files: [File], finishedAt: Date = Date()) {
        self.jobID = jobID
        self.action = action
        self.targetID = targetID
        self.files = files
        self.finishedAt = finishedAt
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case action
        case targetID = "target_id"
        case files
        case finishedAt = "finished_at"
    }
}
