import Foundation

/// One rule made ready for a plan: its criteria as numbers to compare (the path criterion is in ``PathCriteria``).
/// A class, so the evaluator's loop reaches a watermark rule's volumes through one reference instead of copying
/// every field.
final class CompiledRule: Sendable {
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

    /// The criteria that are numbers, free of references, so the evaluator keeps every rule's in one flat buffer.
    struct Thresholds: BitwiseCopyable {
        /// False outside the schedule window, or for a watermark rule with no volume above its high watermark.
        var active: Bool
        var minSize: Int64
        var maxSize: Int64
        /// The file must have been modified before this moment (seconds since 1970): older than N days, strictly.
        var modifiedBefore: Double
        var accessedBefore: Double
        var hasIncludeList: Bool
        /// A watermark's volumes remain to be checked once the numbers pass.
        var checksVolumes: Bool
        /// A path criterion remains to be checked last.
        var checksPath: Bool

        /// Everything but the extension lists and the location.
        @inline(__always)
        func admits(_ file: FileFacts) -> Bool {
            active && file.size >= minSize && file.size <= maxSize
                && file.modified < modifiedBefore && file.accessed < accessedBefore
        }

        /// `flags` is the rule's ``ExtensionFlags`` for the file's extension (none when the rules name it nowhere).
        @inline(__always)
        func admits(extensionFlags flags: UInt8) -> Bool {
            (!hasIncludeList || flags & ExtensionFlags.included != 0) && flags & ExtensionFlags.excluded == 0
        }
    }

    /// What a rule says of one extension, by extension code.
    enum ExtensionFlags {
        static let included: UInt8 = 1
        static let excluded: UInt8 = 2
    }

    let rule: TieringRule
    /// Why the rule cannot match anything now, or nil.
    let inactive: RuleVerdict.Failure?
    let thresholds: Thresholds
    /// Indexed by extension code; all zero when the rule names no extension.
    let extensionFlags: [UInt8]
    /// For a watermark rule, the mount points whose files it may take.
    let volumes: [ManagedVolume]?

    /// - Parameter checksPath: whether the rule has a path criterion, which ``PathCriteria`` holds.
    init(rule: TieringRule, now: Date, extensionCodes: [String: Int], watermarkVolumes: [String]?, checksPath: Bool) {
        self.rule = rule
        let seconds = now.timeIntervalSince1970
        var flags = [UInt8](repeating: 0, count: extensionCodes.count)
        for text in rule.includeExtensions {
            if let code = extensionCodes[RuleEvaluator.normalizedExtension(text)] { flags[code] |= ExtensionFlags.included }
        }
        for text in rule.excludeExtensions {
            if let code = extensionCodes[RuleEvaluator.normalizedExtension(text)] { flags[code] |= ExtensionFlags.excluded }
        }
        extensionFlags = flags
        volumes = watermarkVolumes.map { $0.map { ManagedVolume(mountPoint: $0, totalBytes: 0, usedBytes: 0) } }
        if let schedule = rule.schedule, !schedule.contains(now) {
            inactive = .init(criterion: .schedule, reason: "outside its schedule window \(schedule.description)")
        } else if let watermark = rule.watermark, watermarkVolumes?.isEmpty ?? true {
            inactive = .init(criterion: .watermark,
                             reason: "no managed volume of this host is above the high watermark of \(watermark.highPercent) %")
        } else {
            inactive = nil
        }
        thresholds = Thresholds(
            active: inactive == nil,
            minSize: rule.minSize ?? 0,
            maxSize: rule.maxSize ?? .max,
            modifiedBefore: rule.minDaysSinceModified.map { seconds - Double($0) * 86_400 } ?? .infinity,
            accessedBefore: rule.minDaysSinceAccessed.map { seconds - Double($0) * 86_400 } ?? .infinity,
            hasIncludeList: !rule.includeExtensions.isEmpty,
            checksVolumes: volumes != nil,
            checksPath: checksPath)
    }

    func flags(of file: FileFacts) -> UInt8 {
        file.extensionCode >= 0 ? extensionFlags[file.extensionCode] : 0
    }

    /// Whether a watermark rule may take a file at `path`: it lies on a volume above the high watermark.
    func isOnHotVolume(_ path: String) -> Bool {
        volumes?.contains { $0.holds(path) } ?? true
    }

    /// Every criterion the file fails, in the order DESIGN.md lists them; `pathMatches` is the verdict of the
    /// rule's path criterion.
    func failures(_ file: FileFacts, path text: String, pathMatches: Bool) -> [RuleVerdict.Failure] {
        if let inactive { return [inactive] }
        var failures: [RuleVerdict.Failure] = []
        if !isOnHotVolume(text) {
            failures.append(.init(criterion: .watermark, reason: "not on a volume above the high watermark"))
        }
        if !pathMatches {
            let patterns = rule.pathGlobs + (rule.pathRegex.map { ["regex \($0)"] } ?? [])
            failures.append(.init(criterion: .path, reason: "matches none of \(patterns.joined(separator: ", "))"))
        }
        if let days = rule.minDaysSinceModified, !(file.modified < thresholds.modifiedBefore) {
            failures.append(.init(criterion: .modified, reason: "modified \(Self.days(since: file.modified, now: thresholds.modifiedBefore, plus: days)) days ago, not more than \(days)"))
        }
        if let days = rule.minDaysSinceAccessed, !(file.accessed < thresholds.accessedBefore) {
            failures.append(.init(criterion: .accessed, reason: "accessed \(Self.days(since: file.accessed, now: thresholds.accessedBefore, plus: days)) days ago, not more than \(days)"))
        }
        if file.size < thresholds.minSize {
            failures.append(.init(criterion: .size, reason: "\(file.size) bytes is below min_size \(thresholds.minSize)"))
        } else if file.size > thresholds.maxSize {
            failures.append(.init(criterion: .size, reason: "\(file.size) bytes is above max_size \(thresholds.maxSize)"))
        }
        let flags = flags(of: file)
        if thresholds.hasIncludeList, flags & ExtensionFlags.included == 0 {
            failures.append(.init(criterion: .extension, reason: "extension is not in include_extensions \(rule.includeExtensions)"))
        }
        if flags & ExtensionFlags.excluded != 0 {
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
