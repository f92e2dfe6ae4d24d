/// Why a stream could not be compressed or decompressed; the message is what an agent or admin sees.
public struct CompressionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
