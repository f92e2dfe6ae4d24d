/// How a POSIX path, which is any bytes but NUL, travels as UTF-8 text through the CSV and the inventory, losslessly.
///
/// A path that is valid UTF-8 is written as it is, with one exception: a `%` followed by two hex digits is
/// written `%25`. Every byte that is not part of a valid UTF-8 sequence is written `%HH` (upper-case hex). Decoding
/// turns every `%` followed by two hex digits back into that byte and keeps every other character. So
/// `/srv/caf\xE9.txt` (Latin-1) is stored as `/srv/caf%E9.txt`, `/srv/100%.txt` stays as it is, and a literal
/// `/srv/a%41` is stored as `/srv/a%2541`. Nearly every real path is stored unchanged, globs still see its
/// readable parts, and `decode(encode(p)) == p` for every path.
public enum PathEncoding {
    /// Appends the encoded form of `bytes` to `output`.
    public static func encode(_ bytes: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) {
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if byte < 0x80 {
                if byte == 0x25, index + 2 < count, isHex(bytes[index + 1]), isHex(bytes[index + 2]) {
                    output.append(contentsOf: [0x25, 0x32, 0x35])
                } else {
                    output.append(byte)
                }
                index += 1
                continue
            }
            let length = validSequenceLength(bytes, at: index)
            if length == 0 {
                output.append(0x25)
                output.append(hexDigit(byte >> 4))
                output.append(hexDigit(byte & 0x0F))
                index += 1
            } else {
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<(index + length)]))
                index += length
            }
        }
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        bytes.withUnsafeBufferPointer { encode($0, into: &output) }
        return String(decoding: output, as: UTF8.self)
    }

    /// The path's bytes, as the file system knows them.
    public static func decode(_ text: String) -> [UInt8] {
        let utf8 = Array(text.utf8)
        guard utf8.contains(0x25) else { return utf8 }
        var output: [UInt8] = []
        output.reserveCapacity(utf8.count)
        var index = 0
        while index < utf8.count {
            let byte = utf8[index]
            if byte == 0x25, index + 2 < utf8.count, let high = hexValue(utf8[index + 1]), let low = hexValue(utf8[index + 2]) {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(byte)
                index += 1
            }
        }
        return output
    }

    /// The length of the well-formed UTF-8 sequence that starts at `index` (Unicode table 3-7), or 0 when the
    /// byte there does not start one.
    static func validSequenceLength(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int {
        let lead = bytes[index]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default: return 0
        }
        guard index + length <= bytes.count, secondRange.contains(bytes[index + 1]) else { return 0 }
        for offset in 2..<length where !(0x80...0xBF).contains(bytes[index + offset]) {
            return 0
        }
        return length
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        hexValue(byte) != nil
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? 0x30 + value : 0x41 + value - 10
    }
}
