import Foundation

/// What a stub remembers about its tier-2 copy; kept in the file's `user.alto.stub` extended attribute, so a
/// stub explains itself even when the central database is out of reach.
public struct StubRecord: Codable, Sendable, Equatable {
    public static let attributeName = "user.alto.stub"
    public static let currentVersion = 1

    public var version: Int
    public var location: String
    /// `sha256:<hex>` of the original content.
    public var hash: String
    public var size: Int64
    public var targetID: UUID?
    public var tieredAt: Date

    public init(location: String, hash: String, size: Int64, targetID: UUID?, tieredAt: Date) {
        self.version = Self.currentVersion
        self.location = location
        self.hash = hash
        self.size = size
        self.targetID = targetID
        self.tieredAt = tieredAt
    }

    enum CodingKeys: String, CodingKey {
        case version, location, hash, size
        case targetID = "target_id"
        case tieredAt = "tiered_at"
    }
}
