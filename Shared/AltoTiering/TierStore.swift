import AltoModels
import Crypto

/// A second tier: a folder (local or mounted share), an SMB share, an S3 bucket or an Azure container. Tiering and
/// recall depend only on this, so a new kind of storage is one more conforming type.
public protocol TierStore: Sendable {
    /// Writes everything `source` yields as `object`, makes it durable (fsynced with its folder; a completed
    /// upload), and only then reads it back or asks the tier for its checksum. Throws `.transient` for what a
    /// retry may cure and `.storageUnavailable` when the tier cannot be reached at all.
    func store(_ source: TierSource, as object: TierObject) async throws(TieringError) -> StoredCopy

    /// Streams a stored copy's bytes, in order, to `sink`.
    func retrieve(_ location: String, into sink: any TierSink) async throws(TieringError)

    /// Writes the description of the copy at `location` beside it (`CopyDescription.location(describing:)`), durably.
    func storeDescription(_ description: [UInt8], of location: String) async throws(TieringError)

    /// Hands every object whose key starts with `prefix` (`<customer>/`, say) to `page`, a page at a time, so a
    /// listing of millions of objects is held in memory a page at a time. The order is the store's own.
    func list(prefix: String, page: ([TierEntry]) async throws(TieringError) -> Void) async throws(TieringError)

    /// Deletes a copy, and its description, that must not be kept (it failed verification, its file changed while
    /// it was written, or nothing refers to it any more).
    func remove(_ location: String) async
}

/// Receives a copy's bytes in order during a recall.
public protocol TierSink: AnyObject, Sendable {
    func receive(_ bytes: UnsafeRawBufferPointer) throws(TieringError)
}

extension TierStore {
    /// Reads the copy at `location` back and checks it against its description: a sealed copy's every chunk must
    /// authenticate under its data key, the content must decompress, and it must have the description's size and
    /// hash. Throws `.hashMismatch` for a copy that does not.
    public func verify(_ location: String, against description: CopyDescription, key: SymmetricKey?) async throws(TieringError) {
        try await read(location, against: description, key: key, into: nil)
    }

    /// `verify`, writing the content into `file` as it checks out (a restore).
    func read(_ location: String, against description: CopyDescription, key: SymmetricKey?, into file: PosixFile?) async throws(TieringError) {
        let checker = try RecallWriter(file: file, size: description.size, compressed: description.compression == "zstd", key: key)
        try await retrieve(location, into: checker)
        let (bytes, hash) = try checker.finish()
        guard bytes == description.size, hash == description.hash else {
            throw TieringError(.hashMismatch, "the copy reads back as \(bytes) bytes hashing to \(hash), its description gives "
                               + "\(description.size) bytes hashing to \(description.hash)")
        }
    }

    /// Hands `entries` to `page` a page of `TierEntry.pageSize` at a time: the stores that read a folder at once.
    static func hand(_ entries: [TierEntry], to page: ([TierEntry]) async throws(TieringError) -> Void) async throws(TieringError) {
        for index in stride(from: 0, to: entries.count, by: TierEntry.pageSize) {
            try await page(Array(entries[index..<min(index + TierEntry.pageSize, entries.count)]))
        }
    }

    /// The description of the copy at `location`, read back and decoded; nil when the copy has none.
    public func copyDescription(of location: String) async throws(TieringError) -> CopyDescription? {
        let describedAt = CopyDescription.location(describing: location)
        let sink = BoundedSink(limit: CopyDescription.maximumBytes)
        do {
            try await retrieve(describedAt, into: sink)
        } catch where error.code == .notFound {
            return nil
        }
        return try CopyDescription.decoded(from: sink.bytes, at: describedAt)
    }

    /// Vouches for a copy just written by reading it back through `retrieve` and hashing what arrives; a copy that
    /// cannot be read back is removed, so no unverified copy is left behind.
    func readBack(_ location: String, for source: TierSource) async throws(TieringError) -> StoredCopy {
        let sink = source.makeVerifier()
        do {
            try await retrieve(location, into: sink)
        } catch {
            await remove(location)
            throw error
        }
        return StoredCopy(location: location, storedBytes: sink.bytes, verifiedHash: sink.hash())
    }
}
