import AltoCompression
import Crypto
import Glibc

/// Reads an original file exactly once, front to back, hashing what it reads and, when asked, compressing it:
/// the hash that later decides whether the copy is good is the hash of the very bytes that were sent.
public final class TierSource: @unchecked Sendable {
    static let chunkBytes = 1 << 20

    private let file: PosixFile
    private let limiter: BandwidthLimiter?
    private let compressed: Bool
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: TierSource.chunkBytes, alignment: 4096)
    private var compressor: Compressor?
    private var compressedChunk: [UInt8] = []
    /// Where a compressed chunk is handed out from; grows to the largest chunk seen.
    private var compressedBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 16)
    private var contentHasher = SHA256()
    private var payloadHasher = SHA256()
    private var offset: Int64 = 0
    private var finished = false

    /// Bytes handed to the store so far.
    public private(set) var payloadBytes: Int64 = 0
    /// `sha256:<hex>` of the original content, once `next()` returned nil.
    public private(set) var contentHash = ""
    /// `sha256:<hex>` of the bytes handed to the store (the content itself unless compressed).
    public private(set) var payloadHash = ""

    init(file: PosixFile, compressed: Bool, limiter: BandwidthLimiter?) {
        self.file = file
        self.compressed = compressed
        self.limiter = limiter
    }

    deinit {
        buffer.deallocate()
        compressedBuffer.deallocate()
    }

    /// Bytes of the last chunk not yet handed out, when a caller asked for fewer than it held.
    private var leftover: UnsafeRawBufferPointer?

    /// At most `limit` of the next bytes to store, valid until the next call; nil at the end of the file. Stores
    /// that cut a copy into parts of a fixed size ask for what is left of the part.
    public func next(limit: Int) throws(TieringError) -> UnsafeRawBufferPointer? {
        guard let chunk = try next() else { return nil }
        guard chunk.count > limit else { return chunk }
        leftover = UnsafeRawBufferPointer(rebasing: chunk[limit...])
        return UnsafeRawBufferPointer(rebasing: chunk[..<limit])
    }

    /// The next bytes to store, valid until the next call; nil at the end of the file.
    public func next() throws(TieringError) -> UnsafeRawBufferPointer? {
        if let leftover {
            self.leftover = nil
            return leftover
        }
        while !finished {
            let count = try file.readFully(into: buffer, at: offset)
            offset += Int64(count)
            limiter?.consume(count)
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            contentHasher.update(bufferPointer: chunk)
            if count < buffer.count { finished = true }
            guard compressed else {
                if count == 0 { break }
                payloadBytes += Int64(count)
                return chunk
            }
            try compress(chunk, finishing: finished)
            if !compressedChunk.isEmpty {
                if compressedChunk.count > compressedBuffer.count {
                    compressedBuffer.deallocate()
                    compressedBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: compressedChunk.count, alignment: 16)
                }
                compressedChunk.withUnsafeBytes { compressedBuffer.copyMemory(from: $0) }
                let bytes = UnsafeRawBufferPointer(rebasing: compressedBuffer[0..<compressedChunk.count])
                payloadHasher.update(bufferPointer: bytes)
                payloadBytes += Int64(bytes.count)
                return bytes
            }
        }
        finishHashes()
        return nil
    }

    /// Up to `limit` bytes of what is left, read on a blocking thread: one part or block of an object-store upload.
    public func nextPart(upTo limit: Int) async throws(TieringError) -> [UInt8] {
        try await Blocking.run { () throws(TieringError) -> [UInt8] in
            var part: [UInt8] = []
            part.reserveCapacity(limit)
            while part.count < limit {
                guard let chunk = try self.next(limit: limit - part.count) else { break }
                part.append(contentsOf: chunk)
            }
            return part
        }
    }

    /// Starts over from the first byte, for another attempt after a failed upload.
    public func rewind() {
        leftover = nil
        offset = 0
        finished = false
        payloadBytes = 0
        contentHasher = SHA256()
        payloadHasher = SHA256()
        compressor = nil
        contentHash = ""
        payloadHash = ""
    }

    private func compress(_ chunk: UnsafeRawBufferPointer, finishing: Bool) throws(TieringError) {
        if compressor == nil {
            do { compressor = try Compressor(.zstd, level: 3) } catch { throw TieringError(.io, "zstd: \(error)") }
        }
        compressedChunk.removeAll(keepingCapacity: true)
        compressor?.compress(chunk, into: &compressedChunk)
        if finishing { compressor?.finish(into: &compressedChunk) }
    }

    private func finishHashes() {
        guard contentHash.isEmpty else { return }
        contentHash = ContentHash.format(contentHasher.finalize())
        payloadHash = compressed ? ContentHash.format(payloadHasher.finalize()) : contentHash
    }
}
