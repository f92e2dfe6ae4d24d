import Foundation

/// One rule made ready for a plan: its criteria as numbers to compare and patterns to run.
struct CompiledRule: Sendable {
    /// What every rule asks of a file, computed once per file.
    struct FileFacts {
        var size: Int64
        var modified: Double
        /// A file never accessed counts as accessed at the dawn of time.
        var accessed: Double
        /// The number of the file's extension among those the rules name, or -1.
        var extensionCode: Int

        init(file: InventoryFile, extensionCode: Int) {
            size = file.size
            modified = file.lastModified.timeIntervalSince1970
            accessed = file.lastAccessed?.timeIntervalSince1970 ?? -.infinity
            self.extensionCode = extensionCode
        }
    }

    let rule: TieringRule
    /// Outside its schedule window, or a watermark rule with no volume above its high watermark.
    let inactive: RuleVerdict.Failure?
    let minSize: Int64
    let maxSize: Int64
    /// The file must have been modified before this moment (seconds since 1970): older than N days, strictly.
    let modifiedBefore: Double
    let accessedBefore: Double
    /// Indexed by extension code; empty when the rule does not restrict.
    let included: [Bool]
    let excluded: [Bool]
    let path: PathMatcher?
    /// For a watermark rule, the mount points whose files it may take.
    let volumes: [ManagedVolume]?

    init(rule: TieringRule, now: Date, extensionCodes: [String: Int], watermarkVolumes: [String]?) throws(RuleProblem) {
        self.rule = rule
        let seconds = now.timeIntervalSince1970
        minSize = rule.minSize ?? 0
        maxSize = rule.maxSize ?? .max
        modifiedBefore = rule.minDaysSinceModified.map { seconds - Double($0) * 86_400 } ?? .infinity
        accessedBefore = rule.minDaysSinceAccessed.map { seconds - Double($0) * 86_400 } ?? .infinity
        func table(_ list: [String]) -> [Bool] {
            guard !list.isEmpty else { return [] }
            var table = [Bool](repeating: false, count: extensionCodes.count)
            for text in list { if let code = extensionCodes[RuleEvaluator.normalizedExtension(text)] { table[code] = true } }
            return table
        }
        included = table(rule.includeExtensions)
        excluded = table(rule.excludeExtensions)
        path = try PathMatcher(rule: rule)
        volumes = watermarkVolumes.map { $0.map { ManagedVolume(mountPoint: $0, totalBytes: 0, usedBytes: 0) } }
        if let schedule = rule.schedule, !schedule.contains(now) {
            inactive = .init(criterion: .schedule, reason: "outside its schedule window \(schedule.description)")
        } else if let watermark = rule.watermark, watermarkVolumes?.isEmpty ?? true {
            inactive = .init(criterion: .watermark,
                             reason: "no managed volume of this host is above the high watermark of \(watermark.highPercent) %")
        } else {
            inactive = nil
        }
    }

    /// The hot path: cheapest criteria first, the path last.
    @inline(__always)
    func matches(_ file: FileFacts, path text: String, bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard inactive == nil,
              file.size >= minSize, file.size <= maxSize,
              file.modified < modifiedBefore, file.accessed < accessedBefore else { return false }
        if !included.isEmpty, file.extensionCode < 0 || !included[file.extensionCode] { return false }
        if !excluded.isEmpty, file.extensionCode >= 0, excluded[file.extensionCode] { return false }
        if let volumes, !volumes.contains(where: { $0.holds(text) }) { return false }
        if let path, !path.matches(text, bytes: bytes) { return false }
        return true
    }

    /// Every criterion the file fails, in the order DESIGN.md lists them.
    func failures(_ file: FileFacts, path text: String, bytes: UnsafeBufferPointer<UInt8>) -> [RuleVerdict.Failure] {
        if let inactive { return [inactive] }
        var failures: [RuleVerdict.Failure] = []
        if let volumes, !volumes.contains(where: { $0.holds(text) }) {
            failures.append(.init(criterion: .watermark, reason: "not on a volume above the high watermark"))
        }
        if let path, !path.matches(text, bytes: bytes) {
            let patterns = rule.pathGlobs + (rule.pathRegex.map { ["regex \($0)"] } ?? [])
            failures.append(.init(criterion: .path, reason: "matches none of \(patterns.joined(separator: ", "))"))
        }
        if let days = rule.minDaysSinceModified, !(file.modified < modifiedBefore) {
            failures.append(.init(criterion: .modified, reason: "modified \(Self.days(since: file.modified, now: modifiedBefore, plus: days)) days ago, not more than \(days)"))
        }
        if let days = rule.minDaysSinceAccessed, !(file.accessed < accessedBefore) {
            failures.append(.init(criterion: .accessed, reason: "accessed \(Self.days(since: file.accessed, now: accessedBefore, plus: days)) days ago, not more than \(days)"))
        }
        if file.size < minSize {
            failures.append(.init(criterion: .size, reason: "\(file.size) bytes is below min_size \(minSize)"))
        } else if file.size > maxSize {
            failures.append(.init(criterion: .size, reason: "\(file.size) bytes is above max_size \(maxSize)"))
        }
        if !included.isEmpty, file.extensionCode < 0 || !included[file.extensionCode] {
            failures.append(.init(criterion: .extension, reason: "extension is not in include_extensions \(rule.includeExtensions)"))
        }
        if !excluded.isEmpty, file.extensionCode >= 0, excluded[file.extensionCode] {
            failures.append(.init(criterion: .extension, reason: "extension is in exclude_extensions \(rule.excludeExtensions)"))
        }
        return failures
    }

    /// Whole days between a time and the evaluation moment, which is `threshold + days`.
    private static func days(since time: Double, now threshold: Double, plus days: Int) -> String {
        let age = (threshold + Double(days) * 86_400 - time) / 86_400
        return String(format: "%.1f", age)
    }
}
