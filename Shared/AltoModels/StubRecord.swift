import Foundation

/// What a stub remembers about its tier-2 copy; kept in the file's `trusted.alto.stub` extended attribute, so a
/// stub explains itself even when the central database is out of reach. Only a process with CAP_SYS_ADMIN can write
/// `trusted.*`: the file's owner, who owns its `user.*` attributes, cannot make a file say its copy is elsewhere.
public struct StubRecord: Codable, Sendable, Equatable {
    public static let attributeName = "trusted.alto.stub"
    /// Where a user could write a record of their own; one found there is a forgery, never followed.
    public static let forgeableAttributeName = "user.alto.stub"
    public static let currentVersion = 1

    public var version: Int
    public var location: String
    /// `sha256:<hex>` of the original content.
    public var hash: String
    public var size: Int64
    public var targetID: UUID?
    public var tieredAt: Date
    /// `zstd` when the copy holds a zstd stream of the content; nil for the content as is.
    public var compression: String?
    /// Leading bytes left on disk (the preview), so header sniffers and thumbnailers read them without a recall.
    public var residentBytes: Int64
    /// How the copy is encrypted; nil for a copy stored in the clear.
    public var encryption: Encryption?

    /// A copy sealed with a data key of the tenant (envelope encryption): the key, wrapped by the tenant's key at
    /// its key provider, travels with the stub, so a recall needs the provider and nothing else.
    public struct Encryption: Codable, Sendable, Equatable {
        /// The stream format: `aes-256-gcm-chunked`.
        public var cipher: String
        /// The key provider that wrapped the data key: `local` or `vault`.
        public var provider: String
        public var wrappedKey: String

        public init(cipher: String = "aes-256-gcm-chunked", provider: String, wrappedKey: String) {
            self.cipher = cipher
            self.provider = provider
            self.wrappedKey = wrappedKey
        }

        enum CodingKeys: String, CodingKey {
            case cipher, provider
            case wrappedKey = "wrapped_key"
        }
    }

    public init(location: String, hash: String, size: Int64, targetID: UUID?, tieredAt: Date, compression: String? = nil,
                residentBytes: Int64 = 0, encryption: Encryption? = nil) {
        self.version = Self.currentVersion
        self.location = location
        self.hash = hash
        self.size = size
        self.targetID = targetID
        self.tieredAt = tieredAt
        self.compression = compression
        self.residentBytes = residentBytes
        self.encryption = encryption
    }

    /// What makes the record unusable, or nil: a recall must never follow a record it cannot make sense of, nor
    /// write past the size the record gives.
    public var problem: String? {
        if version != Self.currentVersion { return "version \(version) is not \(Self.currentVersion)" }
        if size < 0 || residentBytes < 0 || residentBytes > size { return "sizes out of range (\(residentBytes) of \(size) bytes resident)" }
        if location.isEmpty || location.utf8.contains(0) { return "no usable location" }
        let digest = hash.utf8.dropFirst(7)
        guard hash.hasPrefix("sha256:"), digest.count == 64,
              digest.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return "no sha256 hash" }
        if let compression, compression != "zstd" { return "unknown compression \(compression)" }
        return nil
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(Int.self, forKey: .version)
        location = try container.decode(String.self, forKey: .location)
        hash = try container.decode(String.self, forKey: .hash)
        size = try container.decode(Int64.self, forKey: .size)
        targetID = try container.decodeIfPresent(UUID.self, forKey: .targetID)
        tieredAt = try container.decode(Date.self, forKey: .tieredAt)
        compression = try container.decodeIfPresent(String.self, forKey: .compression)
        residentBytes = try container.decodeIfPresent(Int64.self, forKey: .residentBytes) ?? 0
        encryption = try container.decodeIfPresent(Encryption.self, forKey: .encryption)
    }

    enum CodingKeys: String, CodingKey {
        case version, location, hash, size, compression, encryption
        case targetID = "target_id"
        case tieredAt = "tiered_at"
        case residentBytes = "resident_bytes"
    }
}
