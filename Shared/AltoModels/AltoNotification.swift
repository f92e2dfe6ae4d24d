import Foundation

/// An event for people and the audit trail, fanned out on `notifications`.
public struct AltoNotification: EnvelopePayload {
    public static let messageType = "notification"

    public var event: String
    public var jobID: UUID?
    public var summary: String
    public var counts: [String: Int64]

    public init(event: String, jobID: UUID?, summary: String, counts: [String: Int64] = [:]) {
        self.event = event
        self.jobID = jobID
        self.summary = summary
        self.counts = counts
    }

    enum CodingKeys: String, CodingKey {
        case event
        case jobID = "job_id"
        case summary, counts
    }
}
