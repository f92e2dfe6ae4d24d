@testable import AltoModels
import Foundation

/// One row of an agent's scan upload (DESIGN.md, "Agent CSV") as plain values, so tests can write batches and read
/// what the ingest's own reader and row checks make of them.
struct ScanRecord: Sendable, Equatable {
    var path: String
    var size: Int64
    var lastModified: Date
    var lastAccessed: Date?
    var fileExtension: String
    /// Octal mode bits, for example `0644`.
    var permissions: String
    var owner: String
    /// `sha256:<hex>`, or nil when the scan did not hash the file.
    var hash: String?

    init(path: String, size: Int64, lastModified: Date, lastAccessed: Date?, fileExtension: String,
                permissions: String, owner: String, hash: String?) {
        self.path = path
        self.size = size
        self.lastModified = lastModified
        self.lastAccessed = lastAccessed
        self.fileExtension = fileExtension
        self.permissions = permissions
        self.owner = owner
        self.hash = hash
    }
}

extension ScanRecord {
    init(_ row: ScanRowNormalizer.Row) {
        self.init(path: String(decoding: row.path, as: UTF8.self), size: row.size,
                  lastModified: Self.date(row.modified), lastAccessed: row.accessed.map(Self.date),
                  fileExtension: String(decoding: row.fileExtension, as: UTF8.self),
                  permissions: String(decoding: row.permissions, as: UTF8.self), owner: String(decoding: row.owner, as: UTF8.self),
                  hash: row.hash.map { String(decoding: $0, as: UTF8.self) })
    }

    private static func date(_ time: (seconds: Int64, microseconds: Int64)) -> Date {
        Date(timeIntervalSince1970: Double(time.seconds) + Double(time.microseconds) / 1_000_000)
    }
}

extension ScanCSV {
    struct RowError: Error, Sendable, Equatable, CustomStringConvertible {
        /// 1-based line of the row's start in the file, the header being line 1.
        var line: Int
        var message: String
        var description: String { "line \(line): \(message)" }
    }

    static func row(_ record: ScanRecord) -> String {
        let fields = [
            record.path, String(record.size), RFC3339.format(record.lastModified),
            record.lastAccessed.map(RFC3339.format) ?? "", record.fileExtension, record.permissions, record.owner,
            record.hash ?? "",
        ]
        return fields.map(quoted).joined(separator: ",") + "\n"
    }

    /// A whole batch through the ingest's reader and row checks: the records and the per-row errors; a bad row
    /// never stops the good ones. Throws only when the batch as a whole is unusable (no header, an open quote).
    static func parse(_ bytes: [UInt8]) throws(FormatError) -> (records: [ScanRecord], errors: [RowError]) {
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
}
