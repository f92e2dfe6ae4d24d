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

    public init(id: UUID, kind: Kind, location: String, compression: String? = nil) {
        self.id = id
        self.kind = kind
        self.location = location
        self.compression = compression
    }
}
