import AltoCompression
import Crypto
import Glibc

/// Reads an original file exactly once, front to back, hashing what it reads and, when asked, compressing and then
/// encrypting it: the hash that later decides whether the copy is good is the hash of the very bytes that were sent.
public final class TierSource: @unchecked Sendable {
    static let chunkBytes = 1 << 20

    private let file: PosixFile
    private let limiter: BandwidthLimiter?
    private let compressed: Bool
    private let sealingKey: SymmetricKey?
    private var sealer: StreamSealer?
    /// The sealed stream's tag digest, once sealed: what the read-back must authenticate to.
    private var sealedDigest: String?
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: TierSource.chunkBytes, alignment: 4096)
    private var compressor: Compressor?
    private var compressedChunk: [UInt8] = []
    private var sealedChunk: [UInt8] = []
    /// Where a compressed or sealed chunk is handed out from; grows to the largest chunk seen.
    private var compressedBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 16)
    private var contentHasher = SHA256()
    private var payloadHasher = SHA256()
    private var offset: Int64 = 0
    private var finished = false

    /// Bytes handed to the store so far.
    public private(set) var payloadBytes: Int64 = 0
    /// `sha256:<hex>` of the original content, once `next()` returned nil.
    public private(set) var contentHash = ""
    /// `sha256:<hex>` of the bytes handed to the store (the content itself unless compressed); for a sealed copy,
    /// `sealed:<hex>`, the digest of its chunks' tags.
    public private(set) var payloadHash = ""

    /// - Parameter sealingKey: the data key that encrypts the copy (`SealedStream`); nil stores it as it is.
    init(file: PosixFile, compressed: Bool, sealingKey: SymmetricKey? = nil, limiter: BandwidthLimiter?) {
        self.file = file
        self.compressed = compressed
        self.sealingKey = sealingKey
        self.sealer = sealingKey.map(StreamSealer.init)
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
                return try hand(chunk)
            }
            try compress(chunk, finishing: finished)
            if !compressedChunk.isEmpty {
                let handed = compressedChunk.withUnsafeBytes { piece in Result { () throws(TieringError) in try hand(piece) } }
                return try handed.get()
            }
        }
        if let sealer {
            self.sealer = nil
            sealedChunk.removeAll(keepingCapacity: true)
            try sealer.finish(into: &sealedChunk)
            sealedDigest = sealer.tagDigest()
            return sealedChunk.withUnsafeBytes { handOut($0) }
        }
        finishHashes()
        return nil
    }

    /// Hands a piece of payload to the store: as it is, or sealed into one chunk of the encrypted stream.
    private func hand(_ piece: UnsafeRawBufferPointer) throws(TieringError) -> UnsafeRawBufferPointer {
        guard let sealer else {
            guard compressed else {
                payloadBytes += Int64(piece.count)
                return piece
            }
            return handOut(piece)
        }
        sealedChunk.removeAll(keepingCapacity: true)
        try sealer.seal(piece, into: &sealedChunk)
        return sealedChunk.withUnsafeBytes { handOut($0) }
    }

    /// Copies transformed bytes where they stay valid until the next call, and counts and hashes them.
    private func handOut(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if bytes.count > compressedBuffer.count {
            compressedBuffer.deallocate()
            compressedBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
        }
        compressedBuffer.copyMemory(from: bytes)
        let out = UnsafeRawBufferPointer(rebasing: compressedBuffer[0..<bytes.count])
        if sealingKey == nil { payloadHasher.update(bufferPointer: out) }
        payloadBytes += Int64(out.count)
        return out
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

    /// What vouches for the copy when it is read back: its SHA-256, or, for a sealed copy, the authentication of
    /// every chunk under the data key.
    func makeVerifier() -> any CopyVerifier {
        sealingKey.map { SealedVerifier(key: $0) } ?? HashingSink()
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
        sealer = sealingKey.map(StreamSealer.init)
        sealedDigest = nil
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
        payloadHash = sealedDigest ?? (compressed ? ContentHash.format(payloadHasher.finalize()) : contentHash)
    }
}
