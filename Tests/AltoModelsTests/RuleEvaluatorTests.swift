import AltoModels
import Foundation
import Testing

@Suite struct RuleEvaluatorTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let target = UUID()
    static let day = 86_400.0

    static func file(_ path: String, size: Int64 = 1 << 20, modifiedSecondsAgo: Double = 400 * day,
                     accessedSecondsAgo: Double? = 400 * day, stubbed: Bool = false) -> InventoryFile {
        InventoryFile(id: 1, path: path, size: size, lastModified: now.addingTimeInterval(-modifiedSecondsAgo),
                      lastAccessed: accessedSecondsAgo.map { now.addingTimeInterval(-$0) },
                      fileExtension: InventoryFile.fileExtension(of: path), isStubbed: stubbed)
    }

    static func matches(_ rule: TieringRule, _ file: InventoryFile) throws -> Bool {
        try RuleEvaluator(rules: [rule], now: now).firstMatch(file) != nil
    }

    @Test(arguments: [
        ("/data/**", "/data/a/b/c.txt", true),
        ("/data/**", "/data", false),
        ("/data/**/*.iso", "/data/x.iso", true),
        ("/data/**/*.iso", "/data/a/b/x.iso", true),
        ("/data/**/*.iso", "/data/a/b/x.iso.part", false),
        ("/data/*.iso", "/data/a/x.iso", false),
        ("/data/*", "/data/", true),
        ("/data/?.txt", "/data/a.txt", true),
        ("/data/?.txt", "/data/ab.txt", false),
        ("/data/?.txt", "/data//.txt", false),
        ("/data/[a-c]*.log", "/data/beta.log", true),
        ("/data/[!a-c]*.log", "/data/beta.log", false),
        ("/data/[^a-c]*.log", "/data/zeta.log", true),
        ("/data/[]]x", "/data/]x", true),
        ("/data/[a-", "/data/[a-", true),
        ("**/.snapshot/**", "/vol/.snapshot/hourly/x", true),
        ("**/*.tmp", "/a.tmp", true),
        ("/a/**b", "/a/x/yb", true),
        ("C:\\Shares\\**", "C:\\Shares\\Finance\\q1.xlsx", true),
        ("C:/Shares/**/*.xlsx", "C:\\Shares\\Finance\\q1.xlsx", true),
        ("\\\\fs1\\share\\*", "\\\\fs1\\share\\x.doc", true),
        ("/data/ünï/*.txt", "/data/ünï/a.txt", true),
    ])
    func globs(pattern: String, path: String, expected: Bool) {
        #expect(GlobPattern(pattern).matches(path) == expected, "\(pattern) on \(path)")
    }

    @Test(arguments: [
        // (glob, case_sensitive, path, expected)
        ("c:\\shares\\**\\*.PDF", nil, "C:\\Shares\\Finance\\Q1.pdf", true),
        ("/data/*.PDF", nil, "/data/q1.pdf", false),
        ("/data/*.PDF", false, "/data/q1.pdf", true),
        ("C:\\Data\\*.pdf", true, "c:\\data\\a.pdf", false),
        ("\\\\FS1\\share\\*", nil, "\\\\fs1\\SHARE\\a", true),
    ] as [(String, Bool?, String, Bool)])
    func caseFollowsThePathUnlessTheRuleSays(glob: String, caseSensitive: Bool?, path: String, expected: Bool) throws {
        let rule = TieringRule(name: "r", priority: 1, pathGlobs: [glob], caseSensitive: caseSensitive, targetID: Self.target)
        #expect(try Self.matches(rule, Self.file(path)) == expected)
    }

    @Test(arguments: [
        // (min days, file age in seconds, expected): a file matches when strictly older than N days.
        (180, 180 * day, false), (180, 180 * day + 1, true), (180, 180 * day - 1, false), (0, 1, true), (0, 0, false),
    ])
    func ageBoundaries(days: Int, age: Double, expected: Bool) throws {
        let modified = TieringRule(name: "m", priority: 1, minDaysSinceModified: days, targetID: Self.target)
        #expect(try Self.matches(modified, Self.file("/a", modifiedSecondsAgo: age)) == expected)
        let accessed = TieringRule(name: "a", priority: 1, minDaysSinceAccessed: days, targetID: Self.target)
        #expect(try Self.matches(accessed, Self.file("/a", accessedSecondsAgo: age)) == expected)
    }

    @Test func aFileNeverAccessedIsOldEnoughForAnyAccessAge() throws {
        let rule = TieringRule(name: "a", priority: 1, minDaysSinceAccessed: 10_000, targetID: Self.target)
        #expect(try Self.matches(rule, Self.file("/a", accessedSecondsAgo: nil)))
    }

    @Test(arguments: [
        // (min, max, size, expected): both bounds are inclusive.
        (4096, nil, 4096, true), (4096, nil, 4095, false), (nil, 1000, 1000, true), (nil, 1000, 1001, false),
        (10, 10, 10, true), (0, nil, 0, true),
    ] as [(Int64?, Int64?, Int64, Bool)])
    func sizeBoundaries(minimum: Int64?, maximum: Int64?, size: Int64, expected: Bool) throws {
        let rule = TieringRule(name: "s", priority: 1, minSize: minimum, maxSize: maximum, targetID: Self.target)
        #expect(try Self.matches(rule, Self.file("/a.bin", size: size)) == expected)
    }

    @Test(arguments: [
        // (include, exclude, path, expected)
        (["pdf", ".MP4"], [], "/a.pdf", true), (["pdf", ".MP4"], [], "/a.mp4", true), (["pdf"], [], "/a.PDF", true),
        (["pdf"], [], "/a.docx", false), (["pdf"], [], "/noextension", false), ([], ["tmp"], "/a.tmp", false),
        ([], ["tmp"], "/a.txt", true), ([], ["tmp"], "/noextension", true), (["pdf", "tmp"], ["tmp"], "/a.tmp", false),
        (["gz"], [], "/a.tar.gz", true), ([], [], "/.bashrc", true),
    ] as [([String], [String], String, Bool)])
    func extensionLists(include: [String], exclude: [String], path: String, expected: Bool) throws {
        let rule = TieringRule(name: "e", priority: 1, includeExtensions: include, excludeExtensions: exclude, targetID: Self.target)
        #expect(try Self.matches(rule, Self.file(path)) == expected)
    }

    @Test func everyCriterionMustHoldTogether() throws {
        let rule = TieringRule(name: "cold", priority: 1, pathGlobs: ["/data/**"], minDaysSinceModified: 180,
                               minDaysSinceAccessed: 90, minSize: 4096, maxSize: 1 << 30,
                               includeExtensions: ["pdf", ".MP4"], excludeExtensions: ["tmp"], targetID: Self.target)
        #expect(try Self.matches(rule, Self.file("/data/a.pdf")))
        #expect(try !Self.matches(rule, Self.file("/other/a.pdf")))
        #expect(try !Self.matches(rule, Self.file("/data/a.pdf", modifiedSecondsAgo: 10 * Self.day)))
        #expect(try !Self.matches(rule, Self.file("/data/a.pdf", accessedSecondsAgo: 10 * Self.day)))
        #expect(try !Self.matches(rule, Self.file("/data/a.pdf", size: 100)))
        #expect(try !Self.matches(rule, Self.file("/data/a.pdf", size: 2 << 30)))
        #expect(try !Self.matches(rule, Self.file("/data/a.docx")))
        #expect(try !Self.matches(rule, Self.file("/data/a.pdf", stubbed: true)))
    }

    @Test func globsAndRegexAreAlternatives() throws {
        let rule = TieringRule(name: "logs", priority: 1, pathGlobs: ["/archive/**"], pathRegex: #"/var/log/.*\.[0-9]+\.gz"#,
                               targetID: Self.target)
        #expect(try Self.matches(rule, Self.file("/var/log/syslog.2.gz")))
        #expect(try Self.matches(rule, Self.file("/archive/x")))
        #expect(try !Self.matches(rule, Self.file("/var/log/syslog.2.gz.bak")), "a regex matches the whole path")
    }

    @Test(arguments: [
        // (regex, case_sensitive, path, expected): PCRE2 syntax, whole path, the literal prefix only a shortcut
        (#"/var/log/.*\.gz"#, nil, "/var/log/a.gz", true),
        (#"/var/log/.*\.gz"#, nil, "/VAR/log/a.gz", false),
        (#"/var/log/.*\.gz"#, false, "/VAR/LOG/a.GZ", true),
        (#"/data/x?y.txt"#, nil, "/data/y.txt", true),
        (#"/data/ab*c"#, nil, "/data/ac", true),
        (#"/data/a{0}b"#, nil, "/data/b", true),
        (#"(?i)/data/.*\.pdf"#, nil, "/DATA/a.PDF", true),
        (#"/data/(a|b)/\d+\.log"#, nil, "/data/b/42.log", true),
        (#"/data/(a|b)/\d+\.log"#, nil, "/data/c/42.log", false),
        (#"c:\\shares\\.*"#, nil, #"C:\Shares\Finance\q1.xlsx"#, true),
        (#"/data/k.*"#, false, "/data/\u{212A}elvin", true),
        (#"/data/\x{e9}t\x{e9}/.*"#, nil, "/data/été/a", true),
        (#"/data/.*"#, nil, "/data/%FF%25", true),
    ] as [(String, Bool?, String, Bool)])
    func regularExpressions(regex: String, caseSensitive: Bool?, path: String, expected: Bool) throws {
        let rule = TieringRule(name: "r", priority: 1, pathRegex: regex, caseSensitive: caseSensitive, targetID: Self.target)
        #expect(try Self.matches(rule, Self.file(path)) == expected, "\(regex) on \(path)")
    }

    @Test func aRegexThatDoesNotCompileSaysWhereItGaveUp() {
        #expect(throws: PathRegex.CompileError.self) { try PathRegex("/data/(a|b") }
        do {
            _ = try PathRegex("/data/[z-a]")
        } catch {
            #expect(error.description.contains("offset 9"), "\(error)")
        }
    }

    @Test func firstMatchingRuleByPriorityWinsAndDisabledRulesAreSkipped() throws {
        let rules = [
            TieringRule(name: "big", priority: 20, minSize: 1, targetID: Self.target),
            TieringRule(name: "isos", priority: 10, pathGlobs: ["/data/**/*.iso"], targetID: Self.target),
            TieringRule(name: "disabled", priority: 1, enabled: false, targetID: Self.target),
        ]
        let evaluator = try RuleEvaluator(rules: rules, now: Self.now)
        #expect(evaluator.firstMatchingRule(Self.file("/data/x.iso"))?.name == "isos")
        #expect(evaluator.firstMatchingRule(Self.file("/data/x.txt"))?.name == "big")
        #expect(evaluator.rules.map(\.name) == ["isos", "big"])
    }

    @Test func aRuleOutsideItsScheduleWindowDoesNotMatch() throws {
        // 1_800_000_000 is 2027-01-15T08:00:00Z, a Friday (ISO 5).
        let night = ScheduleWindow(start: "22:00", end: "06:00")
        let morning = ScheduleWindow(start: "07:30", end: "09:00", days: [5])
        let weekend = ScheduleWindow(start: "07:30", end: "09:00", days: [6, 7])
        for (window, expected) in [(night, false), (morning, true), (weekend, false)] {
            let rule = TieringRule(name: "w", priority: 1, targetID: Self.target, schedule: window)
            #expect(try Self.matches(rule, Self.file("/a")) == expected, "\(window)")
        }
        #expect(night.contains(Date(timeIntervalSince1970: 1_800_000_000 - 3 * 3600)), "05:00 is inside 22:00–06:00")
        #expect(!night.contains(Date(timeIntervalSince1970: 1_800_000_000 - 2 * 3600)), "06:00 is not")
    }

    @Test func aWatermarkRuleMatchesOnlyOnVolumesAboveItsHighWatermark() throws {
        let rule = TieringRule(name: "space", priority: 1, targetID: Self.target, watermark: Watermark(highPercent: 85, lowPercent: 70))
        let none = try RuleEvaluator(rules: [rule], now: Self.now)
        #expect(none.firstMatch(Self.file("/vol1/a")) == nil)
        let hot = try RuleEvaluator(rules: [rule], now: Self.now, watermarkVolumes: [rule.id: ["/vol1"]])
        #expect(hot.firstMatch(Self.file("/vol1/a")) != nil)
        #expect(hot.firstMatch(Self.file("/vol10/a")) == nil, "a mount point is a whole path segment")
    }

    @Test func anExplanationNamesEveryFailedCriterionAndStopsAtTheMatch() throws {
        let rules = [
            TieringRule(name: "videos", priority: 1, pathGlobs: ["/media/**"], minSize: 1 << 30, targetID: Self.target),
            TieringRule(name: "old", priority: 2, minDaysSinceModified: 30, targetID: Self.target),
            TieringRule(name: "all", priority: 3, targetID: Self.target),
        ]
        let verdicts = try RuleEvaluator(rules: rules, now: Self.now).explain(Self.file("/docs/a.pdf", size: 10))
        #expect(verdicts.map(\.outcome) == [.failed, .matched, .notReached])
        #expect(verdicts[0].failures.map(\.criterion) == [.path, .size])
        #expect(verdicts[0].failures[1].reason.contains("below min_size"))
    }

    @Test(arguments: [
        (TieringRule(name: " ", priority: 1, targetID: target), "name"),
        (TieringRule(name: "r", priority: -1, targetID: target), "priority"),
        (TieringRule(name: "r", priority: 1, pathRegex: "([unclosed", targetID: target), "path_regex"),
        (TieringRule(name: "r", priority: 1, minSize: 10, maxSize: 5, targetID: target), "min_size"),
        (TieringRule(name: "r", priority: 1, minDaysSinceModified: -1, targetID: target), "min_days_since_modified"),
        (TieringRule(name: "r", priority: 1, includeExtensions: ["a/b"], targetID: target), "include_extensions"),
        (TieringRule(name: "r", priority: 1, includeExtensions: ["pdf"], excludeExtensions: [".PDF"], targetID: target), "exclude_extensions"),
        (TieringRule(name: "r", priority: 1, targetID: target, maxFilesPerRun: 0), "max_files_per_run"),
        (TieringRule(name: "r", priority: 1, targetID: target, schedule: ScheduleWindow(start: "25:00", end: "06:00")), "schedule.start"),
        (TieringRule(name: "r", priority: 1, targetID: target, schedule: ScheduleWindow(start: "22:00", end: "06:00", days: [8])), "schedule.days"),
        (TieringRule(name: "r", priority: 1, targetID: target, watermark: Watermark(highPercent: 70, lowPercent: 80)), "watermark.low_percent"),
    ])
    func anInvalidRuleNamesItsField(rule: TieringRule, field: String) {
        #expect(throws: RuleProblem.self) { try rule.validate() }
        do { try rule.validate() } catch { #expect(error.field == field, "\(error)") }
    }
}
