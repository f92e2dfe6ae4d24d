import Foundation

/// The hours (UTC) and weekdays in which a rule may plan, so transfers stay out of business hours. A window whose
/// end is before its start runs over midnight: 22:00–06:00 covers the night.
public struct ScheduleWindow: Codable, Sendable, Equatable {
    /// "HH:MM", UTC.
    public var start: String
    /// "HH:MM", UTC; the window ends just before this minute.
    public var end: String
    /// ISO weekdays (1 is Monday, 7 Sunday) on which the window opens; empty means every day.
    public var days: [Int]

    public init(start: String, end: String, days: [Int] = []) {
        self.start = start
        self.end = end
        self.days = days
    }

    enum CodingKeys: String, CodingKey { case start, end, days }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(start: try container.decode(String.self, forKey: .start), end: try container.decode(String.self, forKey: .end),
                  days: try container.decodeIfPresent([Int].self, forKey: .days) ?? [])
    }

    /// Minutes after midnight of "HH:MM"; nil when the text is not a time of day.
    public static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
              let hours = Int(parts[0]), let minutes = Int(parts[1]),
              (0..<24).contains(hours), (0..<60).contains(minutes) else { return nil }
        return hours * 60 + minutes
    }

    /// Whether `date` falls inside the window. A window over midnight belongs to the day it opens on.
    public func contains(_ date: Date) -> Bool {
        guard let startMinute = Self.minutes(start), let endMinute = Self.minutes(end) else { return false }
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let minuteOfDay = ((seconds % 86_400) + 86_400) % 86_400 / 60
        let dayNumber = Int((Double(seconds) / 86_400).rounded(.down))
        func isOpenDay(_ day: Int) -> Bool {
            days.isEmpty || days.contains(((day + 3) % 7 + 7) % 7 + 1)
        }
        if startMinute == endMinute { return isOpenDay(dayNumber) }
        if startMinute < endMinute {
            return minuteOfDay >= startMinute && minuteOfDay < endMinute && isOpenDay(dayNumber)
        }
        if minuteOfDay >= startMinute { return isOpenDay(dayNumber) }
        return minuteOfDay < endMinute && isOpenDay(dayNumber - 1)
    }

    public var description: String {
        "\(start)–\(end) UTC" + (days.isEmpty ? "" : " on ISO weekdays \(days.map(String.init).joined(separator: ","))")
    }
}
