import Foundation

/// One file of a host's inventory, as the rule engine sees it.
public struct InventoryFile: Sendable, Equatable {
    public var id: Int64
    public var path: String
    public var size: Int64
    public var lastModified: Date
    public var lastAccessed: Date?
    /// Lower-case, without the dot; empty when the name has none.
    public var fileExtension: String
    public var isStubbed: Bool

    public init(id: Int64, path: String, size: Int64, lastModified: Date, lastAccessed: Date?,
                fileExtension: String, isStubbed: Bool) {
        self.id = id
        self.path = path
        self.size = size
        self.lastModified = lastModified
        self.lastAccessed = lastAccessed
        self.fileExtension = fileExtension
        self.isStubbed = isStubbed
    }

    /// The extension of a POSIX or Windows path's last segment, lower-cased; a leading dot alone is not one.
    public static func fileExtension(of path: String) -> String {
        String(decoding: ScanCSV.fileExtension(ofEncodedPath: Array(path.utf8)), as: UTF8.self)
    }
}
