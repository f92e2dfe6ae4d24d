import Crypto

/// What reads a copy back to vouch for it: the bytes that arrived and a digest to compare with what was sent.
protocol CopyVerifier: TierSink {
    var bytes: Int64 { get }
    func hash() -> String
}

/// Hashes what a store sends back, to vouch for a copy by reading it.
final class HashingSink: CopyVerifier, @unchecked Sendable {
    private var hasher = SHA256()
    private(set) var bytes: Int64 = 0

    func receive(_ chunk: UnsafeRawBufferPointer) throws(TieringError) {
        hasher.update(bufferPointer: chunk)
        bytes += Int64(chunk.count)
    }

    func hash() -> String { ContentHash.format(hasher.finalize()) }
}

/// Vouches for a sealed copy by authenticating it: every chunk's tag must check out under the data key, and the
/// tags must be the ones that were sent, in order. That proves the copy is the sealed stream byte for byte without
/// hashing it with SHA-256 a second and third time.
final class SealedVerifier: CopyVerifier, @unchecked Sendable {
    private let opener: StreamOpener
    private(set) var bytes: Int64 = 0

    init(key: SymmetricKey) {
        opener = StreamOpener(key: key)
    }

    func receive(_ chunk: UnsafeRawBufferPointer) throws(TieringError) {
        bytes += Int64(chunk.count)
        try opener.open(chunk) { _ in }
    }

    func hash() -> String {
        (try? opener.finish()).map { opener.tagDigest() } ?? "unauthenticated"
    }
}
