import Foundation

/// Asks an agent to bring stubbed files back from tier-2 (`agent.<customer_id>.<host_id>`); recalls go ahead of tiering work.
public struct RecallJob: EnvelopePayload {
    public static let messageType = "recall.job"

    public struct File: Codable, Sendable, Equatable {
        public var fileID: Int64?
        public var filePath: String

        public init(fileID: Int64?, filePath: String) {
            self.fileID = fileID
            self.filePath = filePath
        }

        enum CodingKeys: String, CodingKey {
            case fileID = "file_id"
            case filePath = "file_path"
        }
    }

    public var jobID: UUID
    public var files: [File]
    /// Who asked, for the audit trail.
    public var requestedBy: String

    public init(jobID: UUID, files: [File], requestedBy: String) {
        self.jobID = jobID
        self.files = files
        self.requestedBy = requestedBy
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case files
        case requestedBy = "requested_by"
    }
}
