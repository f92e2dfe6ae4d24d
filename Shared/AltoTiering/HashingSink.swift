import Crypto

/// Hashes what a store sends back, to vouch for a copy by reading it.
final class HashingSink: TierSink, @unchecked Sendable {
    private var hasher = SHA256()
    private(set) var bytes: Int64 = 0

    func receive(_ chunk: UnsafeRawBufferPointer) throws(TieringError) {
        hasher.update(bufferPointer: chunk)
        bytes += Int64(chunk.count)
    }

    func hash() -> String { ContentHash.format(hasher.finalize()) }
}
