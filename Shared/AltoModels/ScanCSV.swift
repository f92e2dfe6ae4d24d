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

    /// Splits CSV bytes into rows of fields; checks the header. Throws only when the file as a whole is unusable.
    public static func parseFields(_ bytes: [UInt8]) throws(FormatError) -> [(line: Int, fields: [String])] {
        var rows: [(Int, [String])] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var line = 1
        var rowLine = 1
        var index = 0
        var fieldStarted = false
        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            fieldStarted = false
        }
        while index < bytes.count {
            let byte = bytes[index]
            if inQuotes {
                if byte == 0x22 {
                    if index + 1 < bytes.count, bytes[index + 1] == 0x22 {
                        field.append(0x22)
                        index += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if byte == 0x0A { line += 1 }
                    field.append(byte)
                }
            } else {
                switch byte {
                case 0x22 where field.isEmpty && !fieldStarted:
                    inQuotes = true
                    fieldStarted = true
                case 0x2C:
                    endField()
                case 0x0A, 0x0D:
                    if byte == 0x0D, index + 1 < bytes.count, bytes[index + 1] == 0x0A { index += 1 }
                    endField()
                    rows.append((rowLine, fields))
                    fields.removeAll(keepingCapacity: true)
                    line += 1
                    rowLine = line
                default:
                    field.append(byte)
                    fieldStarted = true
                }
            }
            index += 1
        }
        if inQuotes {
            throw FormatError(message: "line \(rowLine): a quoted field never closes")
        }
        if fieldStarted || !field.isEmpty || !fields.isEmpty {
            endField()
            rows.append((rowLine, fields))
        }
        guard let first = rows.first else { throw FormatError(message: "the batch is empty: no header line") }
        guard first.1 == columns else {
            throw FormatError(message: "the header line must be \(columns.joined(separator: ","))")
        }
        return Array(rows.dropFirst())
    }

    /// Parses a batch into records and per-row errors; a bad row never stops the good ones.
    public static func parse(_ bytes: [UInt8]) throws(FormatError) -> (records: [ScanRecord], errors: [RowError]) {
        var records: [ScanRecord] = []
        var errors: [RowError] = []
        for (line, fields) in try parseFields(bytes) {
            switch record(from: fields) {
            case .success(let record): records.append(record)
            case .failure(let message): errors.append(RowError(line: line, message: message.description))
            }
        }
        return (records, errors)
    }

    static func record(from fields: [String]) -> Result<ScanRecord, FormatError> {
        guard fields.count == columns.count else {
            return .failure(FormatError(message: "expected \(columns.count) fields, found \(fields.count)"))
        }
        guard !fields[0].isEmpty else { return .failure(FormatError(message: "file_path is empty")) }
        guard let size = Int64(fields[1]), size >= 0 else {
            return .failure(FormatError(message: "file_size is not a non-negative integer: \(fields[1])"))
        }
        guard let modified = RFC3339.parse(fields[2]) else {
            return .failure(FormatError(message: "last_modified is not an RFC 3339 time: \(fields[2])"))
        }
        var accessed: Date?
        if !fields[3].isEmpty {
            guard let parsed = RFC3339.parse(fields[3]) else {
                return .failure(FormatError(message: "last_accessed is not an RFC 3339 time: \(fields[3])"))
            }
            accessed = parsed
        }
        let hash = fields[7].isEmpty ? nil : fields[7]
        if let hash, !isSHA256(hash) {
            return .failure(FormatError(message: "hash must be sha256:<64 hex digits>"))
        }
        let fileExtension = fields[4].isEmpty ? InventoryFile.fileExtension(of: fields[0]) : fields[4].lowercased()
        return .success(ScanRecord(path: fields[0], size: size, lastModified: modified, lastAccessed: accessed,
                                   fileExtension: fileExtension, permissions: fields[5], owner: fields[6], hash: hash))
    }

    public static func isSHA256(_ text: String) -> Bool {
        guard text.hasPrefix("sha256:") else { return false }
        let hex = text.utf8.dropFirst(7)
        return hex.count == 64 && hex.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
