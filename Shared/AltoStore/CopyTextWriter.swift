import NIOCore

/// Builds rows in PostgreSQL's COPY text format, which is what PostgresNIO's COPY speaks: tab-separated,
/// `\N` for NULL, and backslash escapes for the characters that would break a row.
public struct CopyTextWriter: Sendable {
    public private(set) var buffer: ByteBuffer
    private var fieldsInRow = 0

    public init(capacity: Int = 1 << 16) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    public mutating func field(_ text: String?) {
        separate()
        guard let text else {
            buffer.writeStaticString("\\N")
            return
        }
        for byte in text.utf8 {
            switch byte {
            case 0x5C: buffer.writeStaticString("\\\\")
            case 0x09: buffer.writeStaticString("\\t")
            case 0x0A: buffer.writeStaticString("\\n")
            case 0x0D: buffer.writeStaticString("\\r")
            default: buffer.writeInteger(byte)
            }
        }
    }

    public mutating func field(_ number: Int64?) {
        field(number.map { String($0) })
    }

    public mutating func endRow() {
        buffer.writeInteger(UInt8(0x0A))
        fieldsInRow = 0
    }

    /// Hands over the rows written so far and starts an empty buffer.
    public mutating func take() -> ByteBuffer {
        defer { buffer.clear() }
        return buffer
    }

    private mutating func separate() {
        if fieldsInRow > 0 { buffer.writeInteger(UInt8(0x09)) }
        fieldsInRow += 1
    }
}
