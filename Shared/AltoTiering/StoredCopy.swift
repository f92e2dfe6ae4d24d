/// A copy the second tier holds and has vouched for.
public struct StoredCopy: Sendable, Equatable {
    /// Where the copy is, as the store that wrote it reads it back (a path, `s3://bucket/key`, ...).
    public var location: String
    /// Bytes stored (after compression).
    public var storedBytes: Int64
    /// `sha256:<hex>` of the stored bytes as read back from the tier, or as the tier's own checksum reports them.
    public var verifiedHash: String

    public init(location: String, storedBytes: Int64, verifiedHash: String) {
        self.location = location
        self.storedBytes = storedBytes
        self.verifiedHash = verifiedHash
    }
}
