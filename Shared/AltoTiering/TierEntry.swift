import Foundation

/// One object a tier-2 listing found: a copy, a copy's description, or what is neither (a partial write, something
/// put there by hand), which whoever lists tells apart.
public struct TierEntry: Sendable, Equatable {
    /// Entries a listing hands out at once.
    static let pageSize = 1000

    /// Where it is, as `TierStore.retrieve` and `remove` take it.
    public var location: String
    /// Its name below the target's root, `/`-separated: `<customer>/<yyyy>/<mm>/<dd>/<host>/<file id>-<name>`.
    public var key: String
    public var size: Int64
    public var modifiedAt: Date?

    public init(location: String, key: String, size: Int64, modifiedAt: Date?) {
        self.location = location
        self.key = key
        self.size = size
        self.modifiedAt = modifiedAt
    }
}
