/// Checks one uploaded CSV row and brings it to the inventory's form: times to UTC, sizes non-negative integers,
/// the extension lower-cased (and taken from the path when the row has none), the hash `sha256:` and 64 lower-case
/// hex digits, every text valid UTF-8 without NUL. A row that fails gets the reason it is rejected with.
public enum ScanRowNormalizer {
    public struct Row {
        public var path: ArraySlice<UInt8>
        public var size: Int64
        public var modified: (seconds: Int64, microseconds: Int64)
        public var accessed: (seconds: Int64, microseconds: Int64)?
        public var fileExtension: [UInt8]
        public var permissions: ArraySlice<UInt8>
        public var owner: ArraySlice<UInt8>
        public var hash: [UInt8]?
    }

    public static func normalize(_ row: ScanCSVReader.Row) -> Result<Row, ScanCSV.FormatError> {
        guard !row.isOverlong else {
            return failure("the row is longer than \(ScanCSVReader.defaultMaximumRowBytes) bytes; it was not read")
        }
        guard row.fieldCount == ScanCSV.columns.count else {
            return failure("expected \(ScanCSV.columns.count) fields, found \(row.fieldCount)")
        }
        let path = row.field(0)
        guard !path.isEmpty else { return failure("file_path is empty") }
        for (index, name) in ScanCSV.columns.enumerated() where !isText(row.field(index)) {
            return failure("\(name) is not valid UTF-8 text (send other bytes of a path as %HH)")
        }
        guard let size = integer(row.field(1)) else {
            let text = String(decoding: row.field(1), as: UTF8.self)
            return failure(text.hasPrefix("-") ? "file_size is negative: \(text)" : "file_size is not a non-negative integer: \(text)")
        }
        guard let modified = RFC3339.parseUTC(row.field(2)) else {
            return failure("last_modified is not an RFC 3339 time: \(String(decoding: row.field(2), as: UTF8.self))")
        }
        guard storable.contains(modified.seconds) else {
            return failure("last_modified is outside the years 1 to 9999: \(String(decoding: row.field(2), as: UTF8.self))")
        }
        var accessed: (seconds: Int64, microseconds: Int64)?
        if !row.field(3).isEmpty {
            guard let parsed = RFC3339.parseUTC(row.field(3)) else {
                return failure("last_accessed is not an RFC 3339 time: \(String(decoding: row.field(3), as: UTF8.self))")
            }
            guard storable.contains(parsed.seconds) else {
                return failure("last_accessed is outside the years 1 to 9999: \(String(decoding: row.field(3), as: UTF8.self))")
            }
            accessed = parsed
        }
        var hash: [UInt8]?
        if !row.field(7).isEmpty {
            guard let normalized = sha256(row.field(7)) else { return failure("hash must be sha256:<64 hex digits>") }
            hash = normalized
        }
        let given = row.field(4)
        let fileExtension = given.isEmpty ? ScanCSV.fileExtension(ofEncodedPath: path) : ScanCSV.lowercased(given)
        return .success(Row(path: path, size: size, modified: modified, accessed: accessed, fileExtension: fileExtension,
                            permissions: row.field(5), owner: row.field(6), hash: hash))
    }

    /// UTC seconds from 0001-01-01 to the end of 9999: the times the inventory keeps. PostgreSQL refuses a year 0,
    /// and one bad row must be rejected with its reason, not fail its whole batch.
    static let storable: Range<Int64> = -62_135_596_800..<253_402_300_800

    private static func failure(_ message: String) -> Result<Row, ScanCSV.FormatError> {
        .failure(ScanCSV.FormatError(message: message))
    }

    private static func integer(_ bytes: ArraySlice<UInt8>) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value: Int64 = 0
        for byte in bytes {
            let digit = byte &- 0x30
            guard digit < 10 else { return nil }
            value = value * 10 + Int64(digit)
        }
        return value
    }

    private static func sha256(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        guard bytes.count == 71, bytes.starts(with: "sha256:".utf8) else { return nil }
        var normalized = Array(bytes)
        for index in 7..<71 {
            switch normalized[index] {
            case 0x30...0x39, 0x61...0x66: continue
            case 0x41...0x46: normalized[index] += 0x20
            default: return nil
            }
        }
        return normalized
    }

    /// Valid UTF-8 without NUL, which PostgreSQL's text cannot hold.
    private static func isText(_ bytes: ArraySlice<UInt8>) -> Bool {
        var ascii = true
        for byte in bytes {
            if byte == 0 { return false }
            if byte >= 0x80 { ascii = false }
        }
        if ascii { return true }
        return bytes.withUnsafeBufferPointer { buffer in
            var index = 0
            while index < buffer.count {
                if buffer[index] < 0x80 {
                    index += 1
                    continue
                }
                let length = PathEncoding.validSequenceLength(buffer, at: index)
                guard length > 0 else { return false }
                index += length
            }
            return true
        }
    }
}
