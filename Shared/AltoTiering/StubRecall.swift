import AltoCompression
import AltoModels
import CAltoLinux
import Crypto
import Foundation
import Glibc

/// Brings a stub's content back from its tier-2 copy, in place, and makes it an ordinary file again.
public enum StubRecall {
    /// Recalls the stub at `path`, opening it itself (explicit recalls, when no reader is waiting for the file).
    /// Where a guard watches the file, this open is itself a reader's: the agent may have recalled the file by the
    /// time it is open, which is as good.
    @discardableResult
    public static func recall(path: String, stores: any TierStoreProvider,
                              driver: any StubDriver = LinuxStubDriver()) async throws(TieringError) -> StubRecord {
        let before = try PosixFile(path: path, flags: O_RDONLY | O_NOFOLLOW | alto_o_path)
        guard let expected = try StubFile.record(at: path) else {
            throw TieringError(.notAStub, "\(path) is not an Alto stub")
        }
        let file = try PosixFile(path: path, flags: O_RDWR | O_NOFOLLOW)
        let (was, now) = (try before.status(), try file.status())
        guard was.st_dev == now.st_dev && was.st_ino == now.st_ino else {
            throw TieringError(.changedSinceScan, "\(path) was replaced while it was being recalled")
        }
        guard let record = try driver.record(descriptor: file.descriptor, path: path) else { return expected }
        try await fill(file, record: record, stores: stores, driver: driver)
        return record
    }

    /// Recalls through a descriptor someone else opened, a fanotify event's or one resolved below a managed root:
    /// the record is read from it, and writes through a fanotify event's raise no further events. The descriptor
    /// stays open; its owner closes it.
    @discardableResult
    public static func recall(descriptor: Int32, path: String, stores: any TierStoreProvider,
                              driver: any StubDriver = LinuxStubDriver()) async throws(TieringError) -> StubRecord {
        let duplicate = dup(descriptor)
        guard duplicate >= 0 else { throw TieringError.io("duplicate the descriptor of", path) }
        let file = PosixFile(adopting: duplicate, path: path)
        guard let record = try driver.record(descriptor: file.descriptor, path: path) else {
            throw TieringError(.notAStub, "\(path) is not an Alto stub")
        }
        try await fill(file, record: record, stores: stores, driver: driver)
        return record
    }

    /// Fills the stub from its copy while hashing; only when the hash matches the stub's record is the stub
    /// attribute removed. Nothing is written past the record's size. On a mismatch the blocks are released again
    /// (while the record is still there), so the file stays a valid stub.
    static func fill(_ file: PosixFile, record: StubRecord, stores: any TierStoreProvider, driver: any StubDriver) async throws(TieringError) {
        // Another process (an admin's `alto-agent recall` beside the agent) may be filling it: take turns, and fill
        // only what is still this stub once it is this one's turn.
        guard alto_lock_whole(file.descriptor, 1) == 0 else { throw TieringError.io("lock", file.path) }
        defer { _ = alto_lock_whole(file.descriptor, 0) }
        guard case .stub(let current) = StubFile.inspect(descriptor: file.descriptor), current == record else {
            throw TieringError(.notAStub, "\(file.path) was recalled meanwhile")
        }
        let info = try file.status()
        guard Int64(info.st_size) == record.size else {
            throw TieringError(.untrustedRecord, "\(file.path) is \(info.st_size) bytes long, its stub record says \(record.size); "
                               + "nothing is written into it")
        }
        let store = try await stores.store(for: record)
        let key: SymmetricKey? = if let encryption = record.encryption { try await stores.dataKey(for: encryption) } else { nil }
        let writer = try RecallWriter(file: file, size: record.size, compressed: record.compression == "zstd", key: key)
        do throws(TieringError) {
            try await store.retrieve(record.location, into: writer)
            let (written, hash) = try writer.finish()
            guard written == record.size, hash == record.hash else {
                throw TieringError(.hashMismatch, "the tier-2 copy of \(file.path) reads back as \(written) bytes hashing to \(hash), "
                                   + "the stub expects \(record.size) bytes hashing to \(record.hash); the file stays a stub")
            }
            try file.sync()
        } catch {
            if writer.wroteAnything { driver.releaseAgain(descriptor: file.descriptor, record: record) }
            throw error
        }
        try driver.clearStub(descriptor: file.descriptor, path: file.path, times: (info.st_atim, info.st_mtim))
    }
}

/// Writes a copy's bytes back into the stub at their offsets, opening them when the copy is encrypted (a chunk is
/// written only once it authenticated) and decompressing when it is compressed, and hashes the content it wrote;
/// without a file, it only checks and hashes (a reconciliation's read of a copy).
final class RecallWriter: TierSink, @unchecked Sendable {
    private let file: PosixFile?
    private let opener: StreamOpener?
    private let decompressor: Decompressor?
    private var hasher = SHA256()
    private let size: Int64
    private var offset: Int64 = 0
    private var decompressed: [UInt8] = []

    init(file: PosixFile?, size: Int64, compressed: Bool, key: SymmetricKey? = nil) throws(TieringError) {
        self.file = file
        self.size = size
        self.opener = key.map(StreamOpener.init)
        do {
            decompressor = compressed ? try Decompressor(.zstd) : nil
        } catch {
            throw TieringError(.io, "zstd: \(error)")
        }
    }

    func receive(_ bytes: UnsafeRawBufferPointer) throws(TieringError) {
        guard let opener else { return try receivePlain(bytes) }
        try opener.open(bytes) { plaintext throws(TieringError) in try receivePlain(plaintext) }
    }

    private func receivePlain(_ bytes: UnsafeRawBufferPointer) throws(TieringError) {
        guard let decompressor else { return try write(bytes) }
        decompressed.removeAll(keepingCapacity: true)
        do { try decompressor.decompress(bytes, into: &decompressed) } catch {
            throw TieringError(.hashMismatch, "the tier-2 copy is not a valid zstd stream: \(error)")
        }
        let failure = decompressed.withUnsafeBytes { content -> TieringError? in
            do throws(TieringError) { try write(content) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    /// Whether any byte reached the file, which must then be released again if the recall fails.
    var wroteAnything: Bool { offset > 0 }

    private func write(_ content: UnsafeRawBufferPointer) throws(TieringError) {
        guard offset + Int64(content.count) <= size else {
            throw TieringError(.hashMismatch, "the tier-2 copy of \(file?.path ?? "the file") is longer than the \(size) bytes it should have")
        }
        hasher.update(bufferPointer: content)
        try file?.write(content, at: offset)
        offset += Int64(content.count)
    }

    func finish() throws(TieringError) -> (bytes: Int64, hash: String) {
        try opener?.finish()
        if let decompressor {
            do { try decompressor.finish() } catch { throw TieringError(.hashMismatch, "the tier-2 copy is truncated: \(error)") }
        }
        return (offset, ContentHash.format(hasher.finalize()))
    }
}
