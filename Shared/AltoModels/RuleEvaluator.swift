import Foundation

/// Applies a tenant's rules to files in the order DESIGN.md gives: rules by priority, first match wins; a rule
/// matches when every criterion it sets holds; stubbed files never match. Everything that does not depend on the
/// file (patterns, age thresholds, extension sets, schedule windows) is settled once, when the evaluator is made
/// for one plan, and the cheapest criteria are tried first.
public struct RuleEvaluator: Sendable {
    /// The enabled rules in evaluation order.
    public let rules: [TieringRule]
    let compiled: [CompiledRule]
    /// Every rule's ``CompiledRule/Thresholds`` side by side: the loop that turns most files away reads only these.
    let thresholds: [CompiledRule.Thresholds]
    /// Every rule's extension flags, one row of `extensionCodes.count` per rule.
    let extensionFlags: [UInt8]
    let paths: PathCriteria
    /// Every extension some rule names, numbered, so a file's extension is looked up once, not once per rule.
    let extensionCodes: [String: Int]

    /// - Parameters:
    ///   - now: the moment ages and schedule windows are measured at.
    ///   - watermarkVolumes: for each watermark rule, the mount points now above its high watermark; a watermark
    ///     rule matches only files on those.
    public init(rules: [TieringRule], now: Date, watermarkVolumes: [UUID: [String]] = [:]) throws(RuleProblem) {
        let ordered = rules.filter(\.enabled)
            .sorted { ($0.priority, $0.name, $0.id.uuidString) < ($1.priority, $1.name, $1.id.uuidString) }
        var codes: [String: Int] = [:]
        for rule in ordered {
            for text in rule.includeExtensions + rule.excludeExtensions {
                let normalized = Self.normalizedExtension(text)
                if codes[normalized] == nil { codes[normalized] = codes.count }
            }
        }
        var compiled: [CompiledRule] = []
        var paths = PathCriteria()
        for (index, rule) in ordered.enumerated() {
            try paths.add(rule)
            compiled.append(CompiledRule(rule: rule, now: now, extensionCodes: codes,
                                         watermarkVolumes: rule.watermark == nil ? nil : watermarkVolumes[rule.id] ?? [],
                                         checksPath: paths.constrains(index)))
        }
        self.paths = paths
        self.rules = ordered
        self.compiled = compiled
        self.thresholds = compiled.map(\.thresholds)
        self.extensionFlags = compiled.flatMap(\.extensionFlags)
        self.extensionCodes = codes
    }

    /// Paths a rule's regular expression gave up on at its match limits, so far: each counted as not matching.
    public var regexLimitsExceeded: Int { paths.regexLimitsExceeded }

    /// The index in ``rules`` of the first rule that selects the file; nil when none does or the file is a stub.
    /// The hot path: per rule, the numbers first, then the extension, and the path only for what is left.
    public func firstMatch(_ file: InventoryFile) -> Int? {
        guard !file.isStubbed else { return nil }
        let code = extensionCode(of: file)
        let facts = CompiledRule.FileFacts(file: file, extensionCode: code)
        let width = extensionCodes.count
        var path = file.path
        return path.withUTF8 { bytes in
            let windowsPath = PathCriteria.isWindowsPath(bytes)
            return thresholds.withUnsafeBufferPointer { thresholds in
                extensionFlags.withUnsafeBufferPointer { extensionFlags in
                    for index in 0..<thresholds.count {
                        let rule = thresholds[index]
                        guard rule.admits(facts),
                              rule.admits(extensionFlags: code >= 0 ? extensionFlags[index * width + code] : 0) else { continue }
                        if rule.checksVolumes, !compiled[index].isOnHotVolume(file.path) { continue }
                        if rule.checksPath, !paths.matches(index, bytes: bytes, windowsPath: windowsPath) { continue }
                        return index
                    }
                    return nil
                }
            }
        }
    }

    /// The first rule that selects the file, or nil.
    public func firstMatchingRule(_ file: InventoryFile) -> TieringRule? {
        firstMatch(file).map { rules[$0] }
    }

    /// What an admin asks of one file: for each rule in order, whether it matches and, when not, every criterion
    /// that failed and why. Rules after the first match are listed as not reached.
    public func explain(_ file: InventoryFile) -> [RuleVerdict] {
        let facts = CompiledRule.FileFacts(file: file, extensionCode: extensionCode(of: file))
        var path = file.path
        return path.withUTF8 { bytes in
            let windowsPath = PathCriteria.isWindowsPath(bytes)
            var verdicts: [RuleVerdict] = []
            var decided = file.isStubbed
            for (index, rule) in compiled.enumerated() {
                var verdict = RuleVerdict(ruleID: rule.rule.id, name: rule.rule.name, priority: rule.rule.priority, outcome: .notReached)
                if file.isStubbed {
                    verdict.failures = [.init(criterion: .stub, reason: "the file is already a stub")]
                    verdict.outcome = .failed
                } else if !decided {
                    let pathMatches = !paths.constrains(index) || paths.matches(index, bytes: bytes, windowsPath: windowsPath)
                    verdict.failures = compiled[index].failures(facts, path: file.path, pathMatches: pathMatches)
                    verdict.outcome = verdict.failures.isEmpty ? .matched : .failed
                    decided = verdict.failures.isEmpty
                }
                verdicts.append(verdict)
            }
            return verdicts
        }
    }

    /// The number of the file's extension among those the rules name, or -1.
    private func extensionCode(of file: InventoryFile) -> Int {
        extensionCodes.isEmpty ? -1 : extensionCodes[file.fileExtension] ?? -1
    }

    public static func normalizedExtension(_ text: String) -> String {
        (text.hasPrefix(".") ? String(text.dropFirst()) : text).lowercased()
    }
}
