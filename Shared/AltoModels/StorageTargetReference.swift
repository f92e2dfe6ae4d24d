import Foundation

/// Where tier-2 copies go, as far as an agent needs to know to write them.
public struct StorageTargetReference: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// A folder on the agent's host: local disk, or an NFS or SMB share the OS mounted.
        case filesystem
        case smb
        case s3
        case azureBlob = "azure_blob"
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
