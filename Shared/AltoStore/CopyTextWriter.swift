import AltoModels
import NIOCore

/// Builds rows in PostgreSQL's COPY text format, which is what PostgresNIO's COPY speaks: tab-separated,
/// `\N` for NULL, and backslash escapes for the characters that would break a row. Rows collect in a byte array
/// (cheaper per byte than a `ByteBuffer`) and leave in pieces through `take`.
public struct CopyTextWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    private var fieldsInRow = 0

    public init(capacity: Int = 1 << 20) {
        bytes.reserveCapacity(capacity)
    }

    /// A text field, escaped. Concrete byte types rather than a generic collection, so the per-byte loop is
    /// compiled for them even across the module boundary.
    public mutating func field(_ text: UnsafeBufferPointer<UInt8>) {
        separate()
        var plain = true
        for byte in text where byte == 0x5C || byte == 0x09 || byte == 0x0A || byte == 0x0D {
            plain = false
            break
        }
        if plain {
            bytes.append(contentsOf: text)
            return
        }
        for byte in text {
            switch byte {
            case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x09: bytes.append(contentsOf: [0x5C, 0x74])
            case 0x0A: bytes.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: bytes.append(contentsOf: [0x5C, 0x72])
            default: bytes.append(byte)
            }
        }
    }

    public mutating func field(_ text: ArraySlice<UInt8>) {
        text.withUnsafeBufferPointer { field($0) }
    }

    public mutating func field(_ text: [UInt8]) {
        text.withUnsafeBufferPointer { field($0) }
    }

    /// Fields that are already in COPY text form, tab-separated (constant columns, written once per row).
    public mutating func fields(verbatim text: [UInt8], count: Int) {
        separate()
        bytes.append(contentsOf: text)
        fieldsInRow += count - 1
    }

    public mutating func field(_ number: Int64) {
        separate()
        guard number >= 0 else {
            bytes.append(contentsOf: String(number).utf8)
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var rest = number
            var index = buffer.count
            repeat {
                index -= 1
                buffer[index] = UInt8(truncatingIfNeeded: 0x30 + rest % 10)
                rest /= 10
            } while rest > 0
            bytes.append(contentsOf: buffer[index...])
        }
    }

    /// A UTC timestamp, as RFC 3339 text.
    public mutating func timestamp(seconds: Int64, microseconds: Int64) {
        separate()
        RFC3339.write(seconds: seconds, microseconds: microseconds, into: &bytes)
    }

    public mutating func null() {
        separate()
        bytes.append(contentsOf: [0x5C, 0x4E])
    }

    public mutating func endRow() {
        bytes.append(0x0A)
        fieldsInRow = 0
    }

    /// Hands over the rows written so far and starts again, keeping the capacity.
    public mutating func take() -> ByteBuffer {
        defer { bytes.removeAll(keepingCapacity: true) }
        return ByteBuffer(bytes: bytes)
    }

    private mutating func separate() {
        if fieldsInRow > 0 { bytes.append(0x09) }
        fieldsInRow += 1
    }
}
