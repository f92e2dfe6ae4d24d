import AltoModels
import Foundation

/// Rule evaluation in memory: a generated inventory against 50 rules of every kind, on one core, as the planner's
/// hot loop runs it (the files are decoded beforehand, so only the engine is timed).
struct PlanBenchmark {
    let files: Int
    let rounds: Int

    static let extensions = ["pdf", "docx", "xlsx", "mp4", "iso", "jpg", "txt", "log", "zip", "psd", "dwg", "bak"]

    /// 50 rules the way tenants write them: folders by glob, ages, sizes, extension lists, regular expressions (the
    /// last one with no literal prefix, so it runs on nearly every file) and case-insensitive Windows-style rules,
    /// most of which a typical file fails on a cheap criterion.
    static func rules(target: UUID) -> [TieringRule] {
        (0..<50).map { index in
            let department = "dept\(index % 20)"
            switch index % 5 {
            case 0:
                return TieringRule(name: "archive \(index)", priority: index, pathGlobs: ["/srv/share/\(department)/**/archive/**"],
                                   minDaysSinceModified: 365, targetID: target)
            case 1:
                return TieringRule(name: "media \(index)", priority: index, pathGlobs: ["/srv/share/\(department)/**"],
                                   minDaysSinceAccessed: 180 + index, minSize: 64 << 20, includeExtensions: ["mp4", "iso", "psd"],
                                   targetID: target)
            case 2:
                return TieringRule(name: "old docs \(index)", priority: index, pathGlobs: ["/srv/share/\(department)/proj*/**/*.[dp][od][cf]*"],
                                   minDaysSinceModified: 730, excludeExtensions: ["tmp"], targetID: target)
            case 3 where index == 48:
                return TieringRule(name: "scratch \(index)", priority: index, pathRegex: ".*/(temp|tmp|cache|shared)/.*\\.(bak|tmp|log)",
                                   caseSensitive: false, minDaysSinceModified: 90, targetID: target)
            case 3:
                return TieringRule(name: "logs \(index)", priority: index, pathRegex: "/srv/share/\(department)/.*/logs/.*\\.log\\.[0-9]+",
                                   minDaysSinceModified: 30, targetID: target)
            default:
                return TieringRule(name: "windows \(index)", priority: index, pathGlobs: ["C:\\Shares\\\(department)\\**"],
                                   caseSensitive: false, minDaysSinceModified: 400, minSize: 1 << 20, targetID: target)
            }
        }
    }

    static func inventory(_ count: Int) -> [InventoryFile] {
        var random = SeededRandom(seed: 42)
        let now = Date().timeIntervalSince1970
        return (0..<count).map { index in
            let fileExtension = extensions[index % extensions.count]
            let folder = ["archive", "current", "logs", "shared"][index % 4]
            let path = "/srv/share/dept\(index % 23)/proj\(index % 97)/\(folder)/sub\(index % 11)/file\(index).\(fileExtension)"
            let modified = now - Double(UInt32.random(in: 0...(5 * 365 * 86_400), using: &random))
            return InventoryFile(id: Int64(index), path: path, size: Int64(UInt32.random(in: 0...UInt32.max, using: &random) >> 4),
                                 lastModified: Date(timeIntervalSince1970: modified),
                                 lastAccessed: Date(timeIntervalSince1970: modified + Double(UInt16.random(in: 0...UInt16.max, using: &random))),
                                 fileExtension: fileExtension, isStubbed: false)
        }
    }

    func run() throws {
        print("generating \(files) inventory rows and 50 rules…")
        let inventory = Self.inventory(files)
        let evaluator = try RuleEvaluator(rules: Self.rules(target: UUID()), now: Date())
        var best = Double.infinity
        var matched = 0
        for round in 1...rounds {
            let started = ContinuousClock.now
            matched = 0
            for file in inventory where evaluator.firstMatch(file) != nil { matched += 1 }
            let seconds = (ContinuousClock.now - started) / .seconds(1)
            best = min(best, seconds)
            print("round \(round): \(String(format: "%.3f", seconds)) s")
        }
        print("rule evaluation in memory (\(files) files, 50 rules, 1 core, best of \(rounds))")
        print("  files evaluated per second          \(Int(Double(files) / best))")
        print("  files matched                       \(matched)")
    }
}
