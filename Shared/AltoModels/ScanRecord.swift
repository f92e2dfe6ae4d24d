import Foundation

/// One row of an agent's scan upload (DESIGN.md, "Agent CSV").
public struct ScanRecord: Sendable, Equatable {
    public var path: String
    public var size: Int64
    public var lastModified: Date
    public var lastAccessed: Date?
    public var fileExtension: String
    /// Octal mode bits, for example `0644`.
    public var permissions: String
    public var owner: String
    /// `sha256:<hex>`, or nil when the scan did not hash the file.
    public var hash: String?

    public init(path: String, size: Int64, lastModified: Date, lastAccessed: Date?, fileExtension: String,
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
