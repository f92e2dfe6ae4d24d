import Foundation

/// The agent's CSV: a header line, then one RFC 4180 row per file. Fields with a comma, quote, CR or LF are quoted
/// and quotes doubled, so paths with any of those survive the trip.
public enum ScanCSV {
    public static let columns = ["file_path", "file_size", "last_modified", "last_accessed", "file_extension",
                                 "permissions", "owner", "hash"]
    public static let header = columns.joined(separator: ",") + "\n"
    /// A batch of the files a listing of changes no longer found: one `PathKey`, as a signed decimal, per row.
    public static let deletionColumns = ["path_key"]
    public static let deletionHeader = deletionColumns.joined(separator: ",") + "\n"

    public struct FormatError: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    static func quoted(_ field: String) -> String {
        guard field.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
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
}
