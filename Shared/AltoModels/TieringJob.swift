import Foundation

/// Files of one host that one rule sends to one target (`tiering.jobs`, then the host's `agent.<customer_id>.<host_id>`).
public struct TieringJob: EnvelopePayload {
    public static let messageType = "tiering.job"

    public struct File: Codable, Sendable, Equatable {
        public var fileID: Int64
        public var filePath: String
        public var fileSize: Int64
        /// The agent skips the file when it changed since the scan that planned it.
        public var lastModified: Date
        public var hash: String?

        public init(fileID: Int64, filePath: String, fileSize: Int64, lastModified: Date, hash: String? = nil) {
            self.fileID = fileID
            self.filePath = filePath
            self.fileSize = fileSize
            self.lastModified = lastModified
            self.hash = hash
        }

        enum CodingKeys: String, CodingKey {
            case fileID = "file_id"
            case filePath = "file_path"
            case fileSize = "file_size"
            case lastModified = "last_modified"
            case hash
        }
    }

    public var jobID: UUID
    public var ruleID: UUID
    public var priority: Int
    public var files: [File]
    public var estimatedSpaceSaved: Int64
    public var estimatedDurationSeconds: Double
    /// The target's bandwidth limit the estimate assumed, which the job may use.
    public var bandwidthBytesPerSecond: Int64?
    public var target: StorageTargetReference

    public init(jobID: UUID, ruleID: UUID, priority: Int, files: [File], estimatedSpaceSaved: Int64,
                estimatedDurationSeconds: Double, bandwidthBytesPerSecond: Int64? = nil, target: StorageTargetReference) {
        self.bandwidthBytesPerSecond = bandwidthBytesPerSecond
        self.jobID = jobID
        self.ruleID = ruleID
        self.priority = priority
        self.files = files
        self.estimatedSpaceSaved = estimatedSpaceSaved
        self.estimatedDurationSeconds = estimatedDurationSeconds
        self.target = target
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case ruleID = "rule_id"
        case priority, files
        case estimatedSpaceSaved = "estimated_space_saved"
        case estimatedDurationSeconds = "estimated_duration_seconds"
        case bandwidthBytesPerSecond = "bandwidth_bytes_per_second"
        case target
    }
}
