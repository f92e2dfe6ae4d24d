import Foundation

/// Applies a tenant's rules to files in the order DESIGN.md gives: rules by priority, first match wins; within a
/// rule path, then age, then size, then extension; stubbed files never match. Patterns are compiled once.
public struct RuleEvaluator: Sendable {
    public struct RuleError: Error, Sendable, Equatable, CustomStringConvertible {
        public var ruleID: UUID
        public var message: String
        public var description: String { "rule \(ruleID): \(message)" }
    }

    struct CompiledRule: Sendable {
        var rule: TieringRule
        var globs: [GlobPattern]
        var regex: SendableRegex?
        var include: Set<String>
        var exclude: Set<String>
    }

    /// `Regex` is not `Sendable`; it is only read after compilation, so sharing it is safe.
    struct SendableRegex: @unchecked Sendable {
        let regex: Regex<AnyRegexOutput>
    }

    let rules: [CompiledRule]

    /// Compiles the enabled rules; throws for a rule whose regular expression does not compile.
    public init(rules: [TieringRule]) throws {
        self.rules = try rules
            .filter(\.enabled)
            .sorted { ($0.priority, $0.name, $0.id.uuidString) < ($1.priority, $1.name, $1.id.uuidString) }
            .map { rule in
                var regex: SendableRegex?
                if let pattern = rule.pathRegex, !pattern.isEmpty {
                    do {
                        var compiled = try Regex(pattern)
                        if !rule.caseSensitive { compiled = compiled.ignoresCase() }
                        regex = SendableRegex(regex: compiled)
                    } catch {
                        throw RuleError(ruleID: rule.id, message: "path_regex does not compile: \(error)")
                    }
                }
                return CompiledRule(
                    rule: rule,
                    globs: rule.pathGlobs.map { GlobPattern($0, caseSensitive: rule.caseSensitive) },
                    regex: regex,
                    include: Set(rule.includeExtensions.map(Self.normalizedExtension)),
                    exclude: Set(rule.excludeExtensions.map(Self.normalizedExtension))
                )
            }
    }

    /// The first rule, in priority order, that selects the file; nil when none does or the file is a stub.
    public func firstMatch(for file: InventoryFile, now: Date) -> TieringRule? {
        guard !file.isStubbed else { return nil }
        return rules.first { Self.matches($0, file, now: now) }?.rule
    }

    static func matches(_ compiled: CompiledRule, _ file: InventoryFile, now: Date) -> Bool {
        let rule = compiled.rule
        if !compiled.globs.isEmpty || compiled.regex != nil {
            let globMatch = compiled.globs.contains { $0.matches(file.path) }
            let regexMatch = compiled.regex.map { (try? $0.regex.wholeMatch(in: file.path)) != nil } ?? false
            guard globMatch || regexMatch else { return false }
        }
        if let days = rule.minDaysSinceModified, now.timeIntervalSince(file.lastModified) <= Double(days) * 86_400 {
            return false
        }
        if let days = rule.minDaysSinceAccessed {
            let accessed = file.lastAccessed ?? .distantPast
            guard now.timeIntervalSince(accessed) > Double(days) * 86_400 else { return false }
        }
        if let minimum = rule.minSize, file.size < minimum { return false }
        if let maximum = rule.maxSize, file.size > maximum { return false }
        if !compiled.include.isEmpty, !compiled.include.contains(file.fileExtension) { return false }
        if compiled.exclude.contains(file.fileExtension) { return false }
        return true
    }

    static func normalizedExtension(_ text: String) -> String {
        (text.hasPrefix(".") ? String(text.dropFirst()) : text).lowercased()
    }
}
