import Crypto
import Foundation

/// How a tier-2 copy is encrypted: AES-256-GCM over the stream in chunks, so a copy of any size is sealed and
/// opened in bounded memory and a changed byte is found in the chunk it is in, before that chunk is written out.
///
/// `ALTOGCM1` and 8 random bytes open the stream; each chunk is its length (4 bytes, big-endian), a final flag
/// (1 byte), the ciphertext and the 16-byte tag. The nonce is the 8 random bytes and the chunk's number; the tag
/// also covers the stream's header, the chunk's number, length and flag, so chunks cannot be reordered, dropped,
/// or moved between copies. An empty final chunk ends the stream, so a truncated copy does not open.
public enum SealedStream {
    static let magic = Array("ALTOGCM1".utf8)
    static let headerBytes = 16
    static let tagBytes = 16
    static let chunkHeaderBytes = 5
    /// The most one chunk may hold, so a corrupted length cannot make a reader allocate without bound.
    static let maximumChunkBytes = 16 << 20

    /// The plaintext of a whole sealed copy held in memory (tools and tests; recalls stream instead).
    public static func open(_ sealed: [UInt8], key: SymmetricKey) throws(TieringError) -> [UInt8] {
        let opener = StreamOpener(key: key)
        var plaintext: [UInt8] = []
        let opened = sealed.withUnsafeBytes { bytes in
            Result { () throws(TieringError) in try opener.open(bytes) { chunk in plaintext.append(contentsOf: chunk) } }
        }
        try opened.get()
        try opener.finish()
        return plaintext
    }

    /// `sealed:<hex>`: a digest of every chunk's tag, in order, and the stream's header. The sealer and a
    /// read-back that authenticates the copy each take it; equal digests mean the very stream that was sealed.
    static func tagDigest(_ tags: SHA256, header: [UInt8]) -> String {
        var digest = tags
        digest.update(data: header)
        return "sealed:" + digest.finalize().map { String(format: "%02x", $0) }.joined()
    }

    static func nonce(prefix: ArraySlice<UInt8>, counter: UInt32) throws -> AES.GCM.Nonce {
        var bytes = Array(prefix)
        withUnsafeBytes(of: counter.bigEndian) { bytes.append(contentsOf: $0) }
        return try AES.GCM.Nonce(data: bytes)
    }

    static func associatedData(header: [UInt8], counter: UInt32, length: UInt32, final: Bool) -> [UInt8] {
        var data = header
        withUnsafeBytes(of: counter.bigEndian) { data.append(contentsOf: $0) }
        withUnsafeBytes(of: length.bigEndian) { data.append(contentsOf: $0) }
        data.append(final ? 1 : 0)
        return data
    }
}

/// Seals the pieces of one copy as they are read.
final class StreamSealer {
    private let key: SymmetricKey
    private let header: [UInt8]
    private var counter: UInt32 = 0
    private var wroteHeader = false
    private var tags = SHA256()

    init(key: SymmetricKey) {
        self.key = key
        var header = SealedStream.magic
        var generator = SystemRandomNumberGenerator()
        header.append(contentsOf: (0..<8).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        self.header = header
    }

    /// Appends `piece` as one sealed chunk (preceded by the stream's header the first time).
    func seal(_ piece: UnsafeRawBufferPointer, into output: inout [UInt8]) throws(TieringError) {
        try chunk(piece, final: false, into: &output)
    }

    /// Appends the empty final chunk that ends the stream.
    func finish(into output: inout [UInt8]) throws(TieringError) {
        try chunk(UnsafeRawBufferPointer(start: nil, count: 0), final: true, into: &output)
    }

    private func chunk(_ piece: UnsafeRawBufferPointer, final: Bool, into output: inout [UInt8]) throws(TieringError) {
        if !wroteHeader {
            output.append(contentsOf: header)
            wroteHeader = true
        }
        let length = UInt32(piece.count)
        do {
            let sealed = try AES.GCM.seal(piece, using: key, nonce: SealedStream.nonce(prefix: header[8...], counter: counter),
                                          authenticating: SealedStream.associatedData(header: header, counter: counter, length: length, final: final))
            withUnsafeBytes(of: length.bigEndian) { output.append(contentsOf: $0) }
            output.append(final ? 1 : 0)
            output.append(contentsOf: sealed.ciphertext)
            output.append(contentsOf: sealed.tag)
            tags.update(data: sealed.tag)
        } catch {
            throw TieringError(.io, "AES-GCM could not seal a chunk: \(error)")
        }
        counter += 1
    }

    /// What a read-back that authenticates the copy must find again (`SealedStream.tagDigest`).
    func tagDigest() -> String { SealedStream.tagDigest(tags, header: header) }
}

/// Opens a sealed copy as its bytes arrive, handing out each chunk's plaintext only once its tag checked out.
final class StreamOpener {
    private let key: SymmetricKey
    private var header: [UInt8] = []
    private var pending: [UInt8] = []
    private var counter: UInt32 = 0
    private var ended = false
    private var tags = SHA256()

    init(key: SymmetricKey) {
        self.key = key
    }

    func open(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws(TieringError) -> Void) throws(TieringError) {
        pending.append(contentsOf: bytes)
        var consumed = 0
        defer { pending.removeFirst(consumed) }
        if header.isEmpty {
            guard pending.count >= SealedStream.headerBytes else { return }
            guard Array(pending[0..<8]) == SealedStream.magic else {
                throw TieringError(.hashMismatch, "the tier-2 copy is not an encrypted Alto copy")
            }
            header = Array(pending[0..<SealedStream.headerBytes])
            consumed = SealedStream.headerBytes
        }
        while pending.count - consumed >= SealedStream.chunkHeaderBytes {
            guard !ended else { throw TieringError(.hashMismatch, "the tier-2 copy goes on after its end") }
            let length = pending[consumed..<consumed + 4].reduce(0) { $0 << 8 | Int($1) }
            let final = pending[consumed + 4] == 1
            guard length <= SealedStream.maximumChunkBytes, pending[consumed + 4] <= 1, !final || length == 0 else {
                throw TieringError(.hashMismatch, "the tier-2 copy's chunk \(counter) is damaged")
            }
            let total = SealedStream.chunkHeaderBytes + length + SealedStream.tagBytes
            guard pending.count - consumed >= total else { return }
            let start = consumed + SealedStream.chunkHeaderBytes
            let plaintext: Data
            do {
                let box = try AES.GCM.SealedBox(nonce: SealedStream.nonce(prefix: header[8...], counter: counter),
                                                ciphertext: pending[start..<start + length],
                                                tag: pending[start + length..<start + length + SealedStream.tagBytes])
                plaintext = try AES.GCM.open(box, using: key, authenticating: SealedStream.associatedData(
                    header: header, counter: counter, length: UInt32(length), final: final))
            } catch {
                throw TieringError(.hashMismatch, "the tier-2 copy's chunk \(counter) does not authenticate: it was changed, or another key sealed it")
            }
            tags.update(data: pending[start + length..<start + length + SealedStream.tagBytes])
            consumed += total
            counter += 1
            if final { ended = true }
            let failure = plaintext.withUnsafeBytes { bytes -> TieringError? in
                do throws(TieringError) { try emit(bytes) } catch { return error }
                return nil
            }
            if let failure { throw failure }
        }
    }

    /// The stream must have ended with its final chunk and nothing after it.
    func finish() throws(TieringError) {
        guard ended, pending.isEmpty else { throw TieringError(.hashMismatch, "the tier-2 copy is truncated") }
    }

    /// The `SealedStream.tagDigest` of the stream opened so far.
    func tagDigest() -> String { SealedStream.tagDigest(tags, header: header) }
}
