import Foundation

/// One rule's answer for one file in a what-if explanation.
public struct RuleVerdict: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable {
        /// This rule selects the file (the first that does).
        case matched
        /// At least one criterion failed; `failures` says which.
        case failed
        /// An earlier rule matched, so first-match-wins never asks this one.
        case notReached = "not_reached"
    }

    public enum Criterion: String, Codable, Sendable {
        case stub, schedule, watermark, path, modified, accessed, size, `extension`
    }

    public struct Failure: Codable, Sendable, Equatable {
        public var criterion: Criterion
        public var reason: String

        public init(criterion: Criterion, reason: String) {
            self.criterion = criterion
            self.reason = reason
        }
    }

    public var ruleID: UUID
    public var name: String
    public var priority: Int
    public var outcome: Outcome
    public var failures: [Failure] = []

    public init(ruleID: UUID, name: String, priority: Int, outcome: Outcome, failures: [Failure] = []) {
        self.ruleID = ruleID
        self.name = name
        self.priority = priority
        self.outcome = outcome
        self.failures = failures
    }

    enum CodingKeys: String, CodingKey {
        case ruleID = "rule_id"
        case name, priority, outcome, failures
    }
}
