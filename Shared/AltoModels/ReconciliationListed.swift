import Foundation

/// An agent has reported everything of one reconciliation run; the sanitizer merges it (`sanitizer.jobs`).
public struct ReconciliationListed: EnvelopePayload {
    public static let messageType = "reconciliation.listed"

    public var runID: UUID

    public init(runID: UUID) {
        self.runID = runID
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
    }
}
