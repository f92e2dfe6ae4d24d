/// A file system an agent manages, as its last heartbeat reported it; watermark rules act on its use.
public struct ManagedVolume: Codable, Sendable, Equatable {
    public var mountPoint: String
    public var totalBytes: Int64
    public var usedBytes: Int64

    public init(mountPoint: String, totalBytes: Int64, usedBytes: Int64) {
        self.mountPoint = mountPoint
        self.totalBytes = totalBytes
        self.usedBytes = usedBytes
    }

    enum CodingKeys: String, CodingKey {
        case mountPoint = "mount_point"
        case totalBytes = "total_bytes"
        case usedBytes = "used_bytes"
    }

    /// Percent of the volume in use.
    public var usedPercent: Double {
        totalBytes > 0 ? Double(usedBytes) * 100 / Double(totalBytes) : 0
    }

    /// Bytes that must be freed to come down to `percent` of use; zero when the volume is already there.
    public func bytesAbove(percent: Double) -> Int64 {
        max(0, usedBytes - Int64((Double(totalBytes) * percent / 100).rounded(.down)))
    }

    /// Whether `path` lies on this volume's mount point (by path, not by device: the inventory has no devices).
    public func holds(_ path: String) -> Bool {
        guard path.hasPrefix(mountPoint) else { return false }
        if mountPoint.hasSuffix("/") || path.utf8.count == mountPoint.utf8.count { return true }
        return path.utf8.dropFirst(mountPoint.utf8.count).first == UInt8(ascii: "/")
    }

    /// The volume of `path`: the one with the longest mount point that holds it.
    public static func volume(of path: String, among volumes: [ManagedVolume]) -> ManagedVolume? {
        volumes.filter { $0.holds(path) }.max { $0.mountPoint.utf8.count < $1.mountPoint.utf8.count }
    }
}
