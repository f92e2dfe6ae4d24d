import AltoModels
import Foundation
import Testing

@Suite struct RFC3339Tests {
    @Test(arguments: [
        ("2025-10-28T00:05:00Z", 1_761_609_900.0),
        ("1970-01-01T00:00:00Z", 0.0),
        ("1969-12-31T23:59:59Z", -1.0),
        ("2024-02-29T12:00:00.5Z", 1_709_208_000.5),
        ("2025-10-28T02:05:00+02:00", 1_761_609_900.0),
    ])
    func parses(text: String, seconds: Double) throws {
        let date = try #require(RFC3339.parse(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 1e-6)
    }

    @Test func writesMicrosecondsOnlyWhenThereAreAny() {
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_761_609_900)) == "2025-10-28T00:05:00Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_761_609_900.25)) == "2025-10-28T00:05:00.250000Z")
    }

    @Test(arguments: ["", "2025-10-28", "2025-13-01T00:00:00Z", "2025-10-28T00:05:00", "2025-10-28T00:05:00Zjunk", "yesterday"])
    func refuses(text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test func roundTripsAcrossCenturies() throws {
        for seconds in stride(from: -2_208_988_800.0, to: 4_102_444_800.0, by: 86_400 * 97.3) {
            let date = Date(timeIntervalSince1970: (seconds * 1_000_000).rounded() / 1_000_000)
            let parsed = try #require(RFC3339.parse(RFC3339.format(date)))
            #expect(abs(parsed.timeIntervalSince1970 - date.timeIntervalSince1970) < 1e-6)
        }
    }
}
