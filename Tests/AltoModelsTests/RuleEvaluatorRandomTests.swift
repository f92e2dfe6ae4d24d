import AltoModels
import Foundation
import Glibc
import Testing

/// Thousands of random files against random rule sets: the engine's first match must equal that of a direct
/// evaluation written the plainest way (fnmatch for single-segment globs, a prefix for `/…/**`, the C library's POSIX
/// regex engine for regular expressions in the syntax both engines share, date arithmetic).
@Suite struct RuleEvaluatorRandomTests {
    enum PathCriterion {
        case none
        case prefix(String)
        case fnmatch(String)
        case posixRegex(String)
    }

    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let segments = ["a", "b", "c", "data", "x1"]
    static let extensions = ["pdf", "txt", "iso", "mp4", ""]

    func randomPath(_ random: inout SeededRandom) -> String {
        let depth = Int.random(in: 1...4, using: &random)
        let folders = (0..<depth).map { _ in Self.segments.randomElement(using: &random)! }
        let fileExtension = Self.extensions.randomElement(using: &random)!
        let name = "f\(Int.random(in: 0...9, using: &random))" + (fileExtension.isEmpty ? "" : "." + fileExtension)
        return "/" + (folders + [name]).joined(separator: "/")
    }

    func randomRule(priority: Int, _ random: inout SeededRandom) -> (TieringRule, PathCriterion) {
        let target = UUID()
        var path = PathCriterion.none
        var globs: [String] = []
        var regex: String?
        switch Int.random(in: 0...3, using: &random) {
        case 1:
            let prefix = "/" + Self.segments.randomElement(using: &random)! + "/"
            path = .prefix(prefix)
            globs = [prefix + "**"]
        case 2:
            let pattern = "/" + ["*", "?", "[a-c]", "data"].randomElement(using: &random)! + "/"
                + ["*.pdf", "f?.*", "*", "f[0-4]*"].randomElement(using: &random)!
            path = .fnmatch(pattern)
            globs = [pattern]
        case 3:
            let pattern = ["/", ".*/", "/data/", "/[a-c]/"].randomElement(using: &random)!
                + [".*", "[^/]*", "(a|b|x1)/.*", ""].randomElement(using: &random)!
                + [#"\.pdf"#, #"f[0-4]\..*"#, "f.", #"\.(iso|mp4)"#].randomElement(using: &random)!
            path = .posixRegex(pattern)
            regex = pattern
        default:
            break
        }
        let minSize: Int64? = Bool.random(using: &random) ? Int64.random(in: 0...5000, using: &random) : nil
        let maxSize: Int64? = Bool.random(using: &random) ? Int64.random(in: 5000...10000, using: &random) : nil
        let modified: Int? = Bool.random(using: &random) ? Int.random(in: 0...400, using: &random) : nil
        let accessed: Int? = Bool.random(using: &random) ? Int.random(in: 0...400, using: &random) : nil
        let include = Bool.random(using: &random) ? Array(Self.extensions.filter { !$0.isEmpty }.shuffled(using: &random).prefix(2)) : []
        let exclude = Bool.random(using: &random) ? [Self.extensions.filter { !$0.isEmpty && !include.contains($0) }.randomElement(using: &random)!] : []
        let rule = TieringRule(name: "r\(priority)", priority: priority, enabled: Int.random(in: 0...9, using: &random) > 0,
                               pathGlobs: globs, pathRegex: regex, minDaysSinceModified: modified, minDaysSinceAccessed: accessed,
                               minSize: minSize, maxSize: maxSize, includeExtensions: include, excludeExtensions: exclude,
                               targetID: target)
        return (rule, path)
    }

    func directlyMatches(_ rule: TieringRule, _ path: PathCriterion, _ file: InventoryFile) -> Bool {
        guard rule.enabled, !file.isStubbed else { return false }
        switch path {
        case .none: break
        case .prefix(let prefix): if !file.path.hasPrefix(prefix) { return false }
        case .fnmatch(let pattern): if fnmatch(pattern, file.path, FNM_PATHNAME | FNM_PERIOD) != 0 { return false }
        case .posixRegex(let pattern): if !Self.posixWholeMatch(pattern, file.path) { return false }
        }
        let age = Self.now.timeIntervalSince(file.lastModified)
        if let days = rule.minDaysSinceModified, !(age > Double(days) * 86_400) { return false }
        if let days = rule.minDaysSinceAccessed, let accessed = file.lastAccessed,
           !(Self.now.timeIntervalSince(accessed) > Double(days) * 86_400) { return false }
        if let minSize = rule.minSize, file.size < minSize { return false }
        if let maxSize = rule.maxSize, file.size > maxSize { return false }
        if !rule.includeExtensions.isEmpty, !rule.includeExtensions.contains(file.fileExtension) { return false }
        if rule.excludeExtensions.contains(file.fileExtension) { return false }
        return true
    }

    static func posixWholeMatch(_ pattern: String, _ path: String) -> Bool {
        var compiled = regex_t()
        guard regcomp(&compiled, "^(\(pattern))$", REG_EXTENDED | REG_NOSUB) == 0 else { return false }
        defer { regfree(&compiled) }
        return regexec(&compiled, path, 0, nil, 0) == 0
    }

    @Test(arguments: 0..<20)
    func theEngineAgreesWithADirectEvaluation(seed: Int) throws {
        var random = SeededRandom(seed: UInt64(seed) &* 7919)
        let count = Int.random(in: 1...12, using: &random)
        let rules = (0..<count).map { randomRule(priority: $0 * 10, &random) }
        let evaluator = try RuleEvaluator(rules: rules.map(\.0).shuffled(using: &random), now: Self.now)
        for index in 0..<500 {
            let path = randomPath(&random)
            let file = InventoryFile(
                id: Int64(index), path: path, size: Int64.random(in: 0...12_000, using: &random),
                lastModified: Self.now.addingTimeInterval(-Double(Int.random(in: 0...500, using: &random)) * 86_400
                    + Double(Int.random(in: -2...2, using: &random))),
                lastAccessed: Bool.random(using: &random) ? nil : Self.now.addingTimeInterval(-Double(Int.random(in: 0...500, using: &random)) * 86_400),
                fileExtension: InventoryFile.fileExtension(of: path), isStubbed: Int.random(in: 0...19, using: &random) == 0)
            let expected = rules.first { directlyMatches($0.0, $0.1, file) }?.0.id
            #expect(evaluator.firstMatchingRule(file)?.id == expected, "seed \(seed), file \(path)")
        }
    }
}
