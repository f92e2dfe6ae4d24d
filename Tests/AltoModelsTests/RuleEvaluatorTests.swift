import AltoModels
import Foundation
import Testing

@Suite struct RuleEvaluatorTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let target = UUID()

    func file(_ path: String, size: Int64 = 1 << 20, modifiedDaysAgo: Double = 400, accessedDaysAgo: Double? = 400,
              stubbed: Bool = false) -> InventoryFile {
        InventoryFile(id: 1, path: path, size: size, lastModified: now.addingTimeInterval(-modifiedDaysAgo * 86_400),
                      lastAccessed: accessedDaysAgo.map { now.addingTimeInterval(-$0 * 86_400) },
                      fileExtension: InventoryFile.fileExtension(of: path), isStubbed: stubbed)
    }

    @Test(arguments: [
        ("/data/**", "/data/a/b/c.txt", true),
        ("/data/**/*.iso", "/data/x.iso", true),
        ("/data/**/*.iso", "/data/a/b/x.iso", true),
        ("/data/*.iso", "/data/a/x.iso", false),
        ("/data/?.txt", "/data/a.txt", true),
        ("/data/?.txt", "/data/ab.txt", false),
        ("/data/[a-c]*.log", "/data/beta.log", true),
        ("/data/[!a-c]*.log", "/data/beta.log", false),
        ("**/.snapshot/**", "/vol/.snapshot/hourly/x", true),
        ("C:\\Shares\\**", "C:\\Shares\\Finance\\q1.xlsx", true),
    ])
    func globs(pattern: String, path: String, expected: Bool) {
        #expect(GlobPattern(pattern).matches(path) == expected)
    }

    @Test func caseInsensitiveGlobsForWindowsServers() {
        #expect(GlobPattern("c:\\shares\\**\\*.PDF", caseSensitive: false).matches("C:\\Shares\\Finance\\Q1.pdf"))
        #expect(!GlobPattern("/data/*.PDF").matches("/data/q1.pdf"))
    }

    @Test func firstMatchingRuleByPriorityWins() throws {
        let rules = [
            TieringRule(name: "big", priority: 20, minSize: 1, targetID: target),
            TieringRule(name: "isos", priority: 10, pathGlobs: ["/data/**/*.iso"], targetID: target),
            TieringRule(name: "disabled", priority: 1, enabled: false, targetID: target),
        ]
        let evaluator = try RuleEvaluator(rules: rules)
        #expect(evaluator.firstMatch(for: file("/data/x.iso"), now: now)?.name == "isos")
        #expect(evaluator.firstMatch(for: file("/data/x.txt"), now: now)?.name == "big")
    }

    @Test func eachCriterionRestricts() throws {
        let rule = TieringRule(name: "cold", priority: 1, pathGlobs: ["/data/**"], minDaysSinceModified: 180,
                               minDaysSinceAccessed: 90, minSize: 4096, maxSize: 1 << 30,
                               includeExtensions: ["pdf", ".MP4"], excludeExtensions: ["tmp"], targetID: target)
        let evaluator = try RuleEvaluator(rules: [rule])
        #expect(evaluator.firstMatch(for: file("/data/a.pdf"), now: now) != nil)
        #expect(evaluator.firstMatch(for: file("/data/a.mp4"), now: now) != nil)
        #expect(evaluator.firstMatch(for: file("/other/a.pdf"), now: now) == nil)
        #expect(evaluator.firstMatch(for: file("/data/a.pdf", modifiedDaysAgo: 10), now: now) == nil)
        #expect(evaluator.firstMatch(for: file("/data/a.pdf", accessedDaysAgo: 10), now: now) == nil)
        #expect(evaluator.firstMatch(for: file("/data/a.pdf", accessedDaysAgo: nil), now: now) != nil)
        #expect(evaluator.firstMatch(for: file("/data/a.pdf", size: 100), now: now) == nil)
        #expect(evaluator.firstMatch(for: file("/data/a.pdf", size: 2 << 30), now: now) == nil)
        #expect(evaluator.firstMatch(for: file("/data/a.docx"), now: now) == nil)
        #expect(evaluator.firstMatch(for: file("/data/a.pdf", stubbed: true), now: now) == nil)
    }

    @Test func regexMatchesTheWholePath() throws {
        let rule = TieringRule(name: "logs", priority: 1, pathRegex: #"/var/log/.*\.[0-9]+\.gz"#, targetID: target)
        let evaluator = try RuleEvaluator(rules: [rule])
        #expect(evaluator.firstMatch(for: file("/var/log/syslog.2.gz"), now: now) != nil)
        #expect(evaluator.firstMatch(for: file("/var/log/syslog.2.gz.bak"), now: now) == nil)
    }

    @Test func aRegexThatDoesNotCompileIsAnError() {
        #expect(throws: RuleEvaluator.RuleError.self) {
            try RuleEvaluator(rules: [TieringRule(name: "bad", priority: 1, pathRegex: "([unclosed", targetID: target)])
        }
    }
}
