/// Collects a small object (a copy's description) in memory, refusing one longer than it can be.
final class BoundedSink: TierSink, @unchecked Sendable {
    private let limit: Int
    private(set) var bytes: [UInt8] = []

    init(limit: Int) {
        self.limit = limit
    }

    func receive(_ chunk: UnsafeRawBufferPointer) throws(TieringError) {
        guard bytes.count + chunk.count <= limit else {
            throw TieringError(.untrustedRecord, "longer than the \(limit) bytes a copy description may be")
        }
        bytes.append(contentsOf: chunk)
    }
}
