import AltoModels
import Crypto
import Foundation
import Glibc

/// Re-makes a stub's copy that reconciliation found missing or damaged from another good copy of the same content
/// (a duplicate file's, which file servers are full of), so the stub recalls again without its file ever coming
/// back. The new copy is the old one made again: the same place, compression and data key, so the stub's record
/// stays true, and it is read back against a fresh description before it counts.
public struct CopyRemaker: Sendable {
    public let customerID: UUID
    public let hostID: UUID
    /// Where the content waits, unlinked, between the two copies.
    public let scratchFolder: String

    public init(customerID: UUID, hostID: UUID, scratchFolder: String) {
        self.customerID = customerID
        self.hostID = hostID
        self.scratchFolder = scratchFolder
    }

    /// The other copy, and what opens it.
    public struct Source: Sendable {
        public var store: any TierStore
        public var location: String
        public var description: CopyDescription
        public var key: SymmetricKey?

        public init(store: any TierStore, location: String, description: CopyDescription, key: SymmetricKey?) {
            self.store = store
            self.location = location
            self.description = description
            self.key = key
        }
    }

    /// Makes the copy the stub at `path` (`record`) names again, on `store`, from `source`, read and checked
    /// against its own description first; `dataKey` is the stub's data key (nil for a copy in the clear). Throws,
    /// leaving nothing behind, when the source is not the stub's content or the new copy does not read back right.
    public func remake(stubAt path: String, encodedPath: String, record: StubRecord, targetID: UUID, dataKey: SymmetricKey?,
                       on store: any TierStore, from source: Source) async throws(TieringError) {
        guard source.description.hash == record.hash, source.description.size == record.size else {
            throw TieringError(.hashMismatch, "the other copy is of other content than the stub")
        }
        guard let fileID = Self.fileID(of: record.location) else {
            throw TieringError(.rejected, "\(record.location) is not named as Alto names copies")
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { throw TieringError.io("stat", path) }
        let object = TierObject(customerID: customerID, hostID: hostID, fileID: fileID, originalPath: encodedPath,
                                tieredAt: record.tieredAt, compressed: record.compression == "zstd")
        // A stub moved since it was tiered would name its new copy after its new name: nothing is written then.
        guard record.location.hasSuffix("/" + object.key) else {
            throw TieringError(.rejected, "the stub was renamed since it was tiered, so its copy cannot be made again under its name")
        }
        let scratch = try Self.scratchFile(in: scratchFolder)
        try await source.store.read(source.location, against: source.description, key: source.key, into: scratch)
        // Every store writes a copy under a temporary name and renames it over the old one: the damaged copy
        // stays until the new one is in place.
        let sent = TierSource(file: scratch, compressed: object.compressed, sealingKey: dataKey, limiter: nil)
        let copy = try await store.store(sent, as: object)
        do throws(TieringError) {
            guard copy.location == record.location else {
                throw TieringError(.rejected, "the copy made again would be at \(copy.location), not at \(record.location) where the stub looks")
            }
            guard copy.verifiedHash == sent.payloadHash, copy.storedBytes == sent.payloadBytes, sent.contentHash == record.hash else {
                throw TieringError(.hashMismatch, "the copy made again does not read back as it was sent")
            }
            let description = CopyDescription(customerID: customerID, hostID: hostID, targetID: targetID, fileID: fileID,
                                              originalPath: encodedPath, status: info, hash: record.hash, copy: copy,
                                              compression: record.compression, encryption: record.encryption, tieredAt: record.tieredAt,
                                              sealingKey: dataKey)
            try await store.storeDescription(description.encoded(), of: copy.location)
            try await store.verify(copy.location, against: description, key: dataKey)
        } catch {
            if copy.location != record.location { await store.remove(copy.location) }
            throw error
        }
    }

    /// The file id a copy's name begins with (`<file id>-<name>`).
    static func fileID(of location: String) -> Int64? {
        let name = location[(location.lastIndex(of: "/").map { location.index(after: $0) } ?? location.startIndex)...]
        guard let dash = name.firstIndex(of: "-") else { return nil }
        return Int64(name[..<dash])
    }

    /// A file only this process can reach: created under a unique name and unlinked at once.
    static func scratchFile(in folder: String) throws(TieringError) -> PosixFile {
        let name = folder + "/.alto-remake-" + UUID().uuidString.lowercased()
        let file = try PosixFile(path: name, flags: O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600)
        unlink(name)
        return file
    }
}
