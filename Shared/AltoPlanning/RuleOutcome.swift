import AltoModels
import Foundation

/// What one rule did in a plan: everything it matched, and what it took within its caps and watermarks.
public struct RuleOutcome: Sendable {
    public var rule: TieringRule
    public var matchedFiles = 0
    public var matchedBytes: Int64 = 0
    public var taken = PlanSelection.Taken()
    /// Bytes matched per parent directory; collected only for what-if plans.
    public var directoryBytes: [String: Int64] = [:]

    public init(rule: TieringRule) {
        self.rule = rule
    }

    /// The `count` directories holding the most matched bytes.
    public func topDirectories(_ count: Int) -> [(path: String, bytes: Int64)] {
        directoryBytes.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.prefix(count).map { ($0.key, $0.value) }
    }
}
