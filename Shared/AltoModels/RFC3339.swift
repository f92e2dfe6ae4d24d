import Foundation

/// UTC RFC 3339 timestamps, written with microseconds (PostgreSQL's precision) and read with or without a fraction
/// or an offset. Hand-written because Foundation's formatters are slow on millions of CSV rows and drop fractions.
public enum RFC3339 {
    public static func format(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let seconds = micros.floorDiv(1_000_000)
        var text: [UInt8] = []
        text.reserveCapacity(27)
        write(seconds: seconds, microseconds: micros - seconds * 1_000_000, into: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// Appends the UTC time `seconds` + `microseconds` since the epoch as ASCII, the same text `format` gives, without
    /// building a `String`: the scanner writes two of these per file.
    public static func write(seconds: Int64, microseconds: Int64, into output: inout [UInt8]) {
        let days = seconds.floorDiv(86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        digits(year, 4, into: &output)
        output.append(0x2D)
        digits(month, 2, into: &output)
        output.append(0x2D)
        digits(day, 2, into: &output)
        output.append(0x54)
        digits(secondOfDay / 3600, 2, into: &output)
        output.append(0x3A)
        digits(secondOfDay / 60 % 60, 2, into: &output)
        output.append(0x3A)
        digits(secondOfDay % 60, 2, into: &output)
        if microseconds != 0 {
            output.append(0x2E)
            digits(microseconds, 6, into: &output)
        }
        output.append(0x5A)
    }

    private static func digits(_ value: Int64, _ width: Int, into output: inout [UInt8]) {
        guard value >= 0, value < 10_000 || width > 4 else {
            output.append(contentsOf: String(value).utf8)
            return
        }
        var divisor: Int64 = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            output.append(UInt8(truncatingIfNeeded: 0x30 + rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; nil for anything else.
    public static func parse(_ text: some StringProtocol) -> Date? {
        guard let (seconds, microseconds) = parseUTC(Array(text.utf8)[...]) else { return nil }
        return Date(timeIntervalSince1970: Double(seconds) + Double(microseconds) / 1_000_000)
    }

    /// Parses the same forms as `parse` into UTC seconds and microseconds since the epoch, exactly (a fraction
    /// finer than a microsecond is cut, as PostgreSQL keeps microseconds); the ingest worker's per-row path.
    public static func parseUTC(_ bytes: ArraySlice<UInt8>) -> (seconds: Int64, microseconds: Int64)? {
        let start = bytes.startIndex
        let count = bytes.count
        guard count >= 20, bytes[start + 4] == 0x2D, bytes[start + 7] == 0x2D,
              bytes[start + 10] == 0x54 || bytes[start + 10] == 0x74 || bytes[start + 10] == 0x20,
              bytes[start + 13] == 0x3A, bytes[start + 16] == 0x3A,
              let year = number(bytes, start, 4), let month = number(bytes, start + 5, 2), let day = number(bytes, start + 8, 2),
              let hour = number(bytes, start + 11, 2), let minute = number(bytes, start + 14, 2),
              let second = number(bytes, start + 17, 2),
              (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        let end = bytes.endIndex
        var index = start + 19
        var microseconds: Int64 = 0
        if bytes[index] == 0x2E {
            index += 1
            var digits = 0
            while index < end, bytes[index] &- 0x30 < 10 {
                if digits < 6 { microseconds = microseconds * 10 + Int64(bytes[index] - 0x30) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in min(digits, 6)..<6 { microseconds *= 10 }
        }
        guard index < end else { return nil }
        var offset: Int64 = 0
        switch bytes[index] {
        case 0x5A, 0x7A:
            guard index + 1 == end else { return nil }
        case 0x2B, 0x2D:
            guard index + 6 == end, bytes[index + 3] == 0x3A,
                  let offsetHours = number(bytes, index + 1, 2), let offsetMinutes = number(bytes, index + 4, 2),
                  offsetHours < 24, offsetMinutes < 60
            else { return nil }
            offset = (offsetHours * 3600 + offsetMinutes * 60) * (bytes[index] == 0x2D ? -1 : 1)
        default:
            return nil
        }
        let days = self.days(fromCivil: year, month, day)
        return (days * 86_400 + hour * 3600 + minute * 60 + second - offset, microseconds)
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func number(_ bytes: ArraySlice<UInt8>, _ start: Int, _ count: Int) -> Int64? {
        var value: Int64 = 0
        for index in start..<(start + count) {
            let digit = bytes[index] &- 0x30
            guard digit < 10 else { return nil }
            value = value * 10 + Int64(digit)
        }
        return value
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's civil calendar algorithm).
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = z.floorDiv(146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = y.floorDiv(400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

extension Int64 {
    fileprivate func floorDiv(_ divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
