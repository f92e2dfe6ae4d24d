import Foundation

/// The agent's CSV: a header line, then one RFC 4180 row per file. Fields with a comma, quote, CR or LF are quoted
/// and quotes doubled, so paths with any of those survive the trip.
public enum ScanCSV {
    public static let columns = ["file_path", "file_size", "last_modified", "last_accessed", "file_extension",
                                 "permissions", "owner", "hash"]
    public static let header = columns.joined(separator: ",") + "\n"

    public struct RowError: Error, Sendable, Equatable, CustomStringConvertible {
        /// 1-based line of the row's start in the file, the header being line 1.
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public struct FormatError: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public static func row(_ record: ScanRecord) -> String {
        let fields = [
            record.path, String(record.size), RFC3339.format(record.lastModified),
            record.lastAccessed.map(RFC3339.format) ?? "", record.fileExtension, record.permissions, record.owner,
            record.hash ?? "",
        ]
        return fields.map(quoted).joined(separator: ",") + "\n"
    }

    static func quoted(_ field: String) -> String {
        guard field.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Parses a whole batch into records and per-row errors; a bad row never stops the good ones. Throws only when
    /// the batch as a whole is unusable (no header, an open quote).
    public static func parse(_ bytes: [UInt8]) throws(FormatError) -> (records: [ScanRecord], errors: [RowError]) {
        var records: [ScanRecord] = []
        var errors: [RowError] = []
        var reader = ScanCSVReader()
        let collect = { (row: ScanCSVReader.Row) in
            switch ScanRowNormalizer.normalize(row) {
            case .success(let normalized): records.append(ScanRecord(normalized))
            case .failure(let error): errors.append(RowError(line: row.line, message: error.message))
            }
        }
        do {
            try reader.read(bytes, collect)
            try reader.finish(collect)
        } catch let error as FormatError {
            throw error
        } catch {
            throw FormatError(message: "\(error)")
        }
        return (records, errors)
    }

    /// The lower-cased extension of the last path segment (after its last dot, which must not be its first
    /// character), from the path as the CSV carries it.
    public static func fileExtension(ofEncodedPath path: some BidirectionalCollection<UInt8>) -> [UInt8] {
        var name = path[...]
        if let separator = path.lastIndex(where: { $0 == 0x2F || $0 == 0x5C }) {
            name = path[path.index(after: separator)...]
        }
        guard let dot = name.lastIndex(of: 0x2E), dot != name.startIndex else { return [] }
        return lowercased(name[name.index(after: dot)...])
    }

    static func lowercased(_ bytes: some Collection<UInt8>) -> [UInt8] {
        if bytes.allSatisfy({ $0 < 0x80 }) {
            return bytes.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }
        }
        return Array(String(decoding: bytes, as: UTF8.self).lowercased().utf8)
    }

    public static func isSHA256(_ text: String) -> Bool {
        guard text.hasPrefix("sha256:") else { return false }
        let hex = text.utf8.dropFirst(7)
        return hex.count == 64 && hex.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
