import AltoModels
import Foundation

/// One file's copy as the second tier names it: `<customer>/<yyyy>/<mm>/<dd>/<host>/<file id>-<name>`, so a
/// tier-2 listing shows whose file it is and when it left (the seed's `customer-123-tiered\2025\10\28\`), and a
/// recall or an audit finds it from the inventory alone. Its `CopyDescription` lies beside it.
public struct TierObject: Sendable, Equatable {
    public var customerID: UUID
    public var hostID: UUID
    public var fileID: Int64
    public var originalPath: String
    public var tieredAt: Date
    /// True when the stored bytes are a zstd stream of the original.
    public var compressed: Bool

    public init(customerID: UUID, hostID: UUID, fileID: Int64, originalPath: String, tieredAt: Date, compressed: Bool) {
        self.customerID = customerID
        self.hostID = hostID
        self.fileID = fileID
        self.originalPath = originalPath
        self.tieredAt = tieredAt
        self.compressed = compressed
    }

    /// The host folder of a name of `key`'s form, or nil for a name of another form.
    public static func host(inKey key: String) -> Substring? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count >= 6 ? parts[parts.count - 2] : nil
    }

    /// The copy's name below the target's root, `/`-separated.
    public var key: String {
        let day = RFC3339.format(tieredAt).prefix(10).split(separator: "-").joined(separator: "/")
        var name = originalPath.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? "file"
        // A copy's name never reads as a description's, whatever a user named the file.
        if name.hasSuffix(CopyDescription.suffix) { name += "_" }
        return "\(customerID.uuidString.lowercased())/\(day)/\(hostID.uuidString.lowercased())/\(fileID)-\(name)"
            + (compressed ? ".zst" : "")
    }
}
