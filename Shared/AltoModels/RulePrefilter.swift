import Foundation

/// The part of an active rule a database can check with its indexes: a file that fails it cannot match the rule.
/// The planner turns these into one WHERE clause, so files no rule could take never leave the database.
public struct RulePrefilter: Sendable, Equatable {
    public var minSize: Int64?
    public var maxSize: Int64?
    /// Modified strictly before this moment.
    public var modifiedBefore: Date?
    /// Never accessed, or accessed strictly before this moment.
    public var accessedBefore: Date?
    /// Lower-case extensions, one of which the file must have; empty when the rule does not restrict.
    public var extensions: [String]

    /// True when the prefilter lets every file through.
    public var isEmpty: Bool {
        minSize == nil && maxSize == nil && modifiedBefore == nil && accessedBefore == nil && extensions.isEmpty
    }
}

extension RuleEvaluator {
    /// One prefilter per rule that can match at this moment (in its window, with a volume above its watermark).
    public var prefilters: [RulePrefilter] {
        compiled.filter { $0.inactive == nil }.map { rule in
            RulePrefilter(
                minSize: rule.thresholds.minSize > 0 ? rule.thresholds.minSize : nil,
                maxSize: rule.thresholds.maxSize < .max ? rule.thresholds.maxSize : nil,
                modifiedBefore: rule.thresholds.modifiedBefore.isFinite ? Date(timeIntervalSince1970: rule.thresholds.modifiedBefore) : nil,
                accessedBefore: rule.thresholds.accessedBefore.isFinite ? Date(timeIntervalSince1970: rule.thresholds.accessedBefore) : nil,
                extensions: rule.rule.includeExtensions.map(RuleEvaluator.normalizedExtension))
        }
    }
}
