import Foundation

/// What a tier-2 copy says about itself, in a small JSON object written beside it (`<copy>.alto.json`) before its
/// file becomes a stub: everything a restore needs besides the tenant's key, so tier-2 and that key alone give back
/// every file when the database and the stubs are gone. A sealed copy's description is authenticated with a key
/// derived from the copy's data key (`mac`), so whoever can write to tier-2 cannot make a restore put a copy at
/// another path, under another owner or with other permissions.
public struct CopyDescription: Codable, Sendable, Equatable {
    public static let schemaName = "alto.copy"
    public static let currentVersion = 1
    /// What a copy's location is followed by to name its description. No copy's name ends with it (`TierObject`).
    public static let suffix = ".alto.json"
    /// The most a description may hold; anything longer is not one.
    public static let maximumBytes = 64 << 10

    /// A file time as the file system keeps it, to the nanosecond.
    public struct FileTime: Codable, Sendable, Equatable {
        public var seconds: Int64
        public var nanoseconds: Int64

        public init(seconds: Int64, nanoseconds: Int64) {
            self.seconds = seconds
            self.nanoseconds = nanoseconds
        }
    }

    public var schema: String
    public var version: Int
    public var customerID: UUID
    public var hostID: UUID
    public var targetID: UUID?
    /// The file's id in the inventory, also part of the copy's name.
    public var fileID: Int64
    /// The file's path on its host, as the inventory writes it (`PathEncoding`).
    public var originalPath: String
    public var size: Int64
    public var modified: FileTime
    public var accessed: FileTime
    /// The permission bits (`st_mode & 0o7777`).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// `sha256:<hex>` of the original content.
    public var hash: String
    /// Bytes the copy holds (after compression and sealing) and their digest as the store vouched for them.
    public var storedBytes: Int64
    public var storedHash: String
    public var compression: String?
    public var encryption: StubRecord.Encryption?
    public var tieredAt: Date
    /// `hmac-sha256:<hex>` of `authenticatedText` under a key derived from the data key; nil for a copy in the clear.
    public var mac: String?

    public init(customerID: UUID, hostID: UUID, targetID: UUID?, fileID: Int64, originalPath: String, size: Int64,
                modified: FileTime, accessed: FileTime, mode: UInt32, uid: UInt32, gid: UInt32, hash: String,
                storedBytes: Int64, storedHash: String, compression: String?, encryption: StubRecord.Encryption?, tieredAt: Date) {
        schema = Self.schemaName
        version = Self.currentVersion
        self.customerID = customerID
        self.hostID = hostID
        self.targetID = targetID
        self.fileID = fileID
        self.originalPath = originalPath
        self.size = size
        self.modified = modified
        self.accessed = accessed
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.hash = hash
        self.storedBytes = storedBytes
        self.storedHash = storedHash
        self.compression = compression
        self.encryption = encryption
        self.tieredAt = tieredAt
    }

    /// The location of the description of the copy at `copyLocation`.
    public static func location(describing copyLocation: String) -> String { copyLocation + suffix }

    /// The copy a description at `location` describes, or nil when `location` names no description.
    public static func copyLocation(describedAt location: String) -> String? {
        location.hasSuffix(suffix) ? String(location.dropLast(suffix.count)) : nil
    }

    /// Every field a restore acts on, each as its length and its text so no two descriptions read alike; what `mac`
    /// authenticates.
    public var authenticatedText: String {
        let fields = [
            schema, "\(version)", customerID.uuidString.lowercased(), hostID.uuidString.lowercased(),
            targetID?.uuidString.lowercased() ?? "", "\(fileID)", originalPath, "\(size)",
            "\(modified.seconds).\(modified.nanoseconds)", "\(accessed.seconds).\(accessed.nanoseconds)",
            "\(mode)", "\(uid)", "\(gid)", hash, "\(storedBytes)", storedHash, compression ?? "",
            encryption?.cipher ?? "", encryption?.provider ?? "", encryption?.wrappedKey ?? "", RFC3339.format(tieredAt),
        ]
        return fields.map { "\($0.utf8.count):\($0)" }.joined(separator: "\n")
    }

    /// What makes the description unusable for a restore, or nil.
    public var problem: String? {
        if schema != Self.schemaName || version != Self.currentVersion { return "schema \(schema) version \(version) is not \(Self.schemaName) \(Self.currentVersion)" }
        if size < 0 || storedBytes < 0 { return "sizes out of range" }
        if originalPath.isEmpty || originalPath.utf8.contains(0) { return "no usable original path" }
        if !hash.hasPrefix("sha256:") || hash.utf8.count != 71 { return "no sha256 hash" }
        if let compression, compression != "zstd" { return "unknown compression \(compression)" }
        if encryption != nil && mac == nil { return "a sealed copy's description carries no mac" }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case schema, version, size, modified, accessed, mode, uid, gid, hash, compression, encryption, mac
        case customerID = "customer_id"
        case hostID = "host_id"
        case targetID = "target_id"
        case fileID = "file_id"
        case originalPath = "original_path"
        case storedBytes = "stored_bytes"
        case storedHash = "stored_hash"
        case tieredAt = "tiered_at"
    }
}
