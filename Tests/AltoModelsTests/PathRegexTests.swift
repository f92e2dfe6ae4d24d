import AltoModels
import Testing

/// A rule's regular expression is a tenant's input: one that backtracks exponentially gives up at PCRE2's limits
/// on each path, counts as no match (nothing is tiered for it), and says how often it gave up.
@Suite(.timeLimit(.minutes(1))) struct PathRegexTests {
    func matches(_ regex: PathRegex, _ path: String) -> Bool {
        var path = path
        return path.withUTF8 { regex.wholeMatch($0) }
    }

    @Test func aCatastrophicPatternGivesUpAndMatchesNothing() throws {
        let regex = try PathRegex(#"(\w+\s?)*"#)
        #expect(!matches(regex, String(repeating: "a", count: 40) + "!"))
        #expect(regex.limitsExceeded == 1)
        #expect(matches(regex, "plain words"), "an ordinary path still matches")
        #expect(regex.limitsExceeded == 1)
    }

    @Test func ordinaryPatternsNeverReachALimit() throws {
        let regex = try PathRegex("/srv/share/projects/.*/20(1[0-9]|20)/.*\\.(pdf|docx)", caseInsensitive: true)
        #expect(matches(regex, "/srv/share/projects/acme/2019/report final.PDF"))
        #expect(!matches(regex, "/srv/share/projects/acme/2021/report.pdf"))
        #expect(regex.limitsExceeded == 0)
    }
}
