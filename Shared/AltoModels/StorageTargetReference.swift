import Foundation

/// Where tier-2 copies go, as far as an agent needs to know to write them.
public struct StorageTargetReference: Codable, Sendable, Equatable {
    /// The kind of storage, by the name the API and the database use. Open, so a new backend names its own kind
    /// where it is described (`StorageKind` in AltoTiering), and a name no backend knows is refused there.
    public struct Kind: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String

        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        public init(from decoder: any Decoder) throws {
            rawValue = try decoder.singleValueContainer().decode(String.self)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(rawValue)
        }

        public var description: String { rawValue }

        /// A folder on the agent's host: local disk, or an NFS or SMB share the OS mounted.
        public static let filesystem = Kind(rawValue: "filesystem")
        public static let smb = Kind(rawValue: "smb")
        public static let s3 = Kind(rawValue: "s3")
        public static let azureBlob = Kind(rawValue: "azure_blob")
    }

    public var id: UUID
    public var kind: Kind
    /// For `filesystem`, the folder under which the tenant's tier-2 tree lives.
    public var location: String
    /// `zstd` to store compressed copies; nil to store content as is.
    public var compression: String?
    /// What the kind needs beyond the location: `endpoint` and `region` of an S3 target, `account` of Azure, ...
    public var settings: [String: String]?
    /// Credentials the agent needs to reach the target (`secret_access_key`, `account_key`, `password`, ...).
    public var secrets: [String: String]?

    public init(id: UUID, kind: Kind, location: String, compression: String? = nil, settings: [String: String]? = nil,
                secrets: [String: String]? = nil) {
        self.id = id
        self.kind = kind
        self.location = location
        self.compression = compression
        self.settings = settings
        self.secrets = secrets
    }

    /// A target as the database keeps it: settings and secrets as JSON objects of strings.
    public init(id: UUID, kind: Kind, location: String, settingsJSON: String, secretsJSON: String) {
        let settings = (try? JSONDecoder().decode([String: String].self, from: Data(settingsJSON.utf8))) ?? [:]
        let secrets = (try? JSONDecoder().decode([String: String].self, from: Data(secretsJSON.utf8))) ?? [:]
        self.init(id: id, kind: kind, location: location, compression: settings["compression"],
                  settings: settings.isEmpty ? nil : settings, secrets: secrets.isEmpty ? nil : secrets)
    }
}
