/// Writes the agent's CSV rows (DESIGN.md, "Agent CSV") straight into a byte buffer, the same text `ScanCSV.row`
/// gives but without a `String` or `Date` per field: the scanner writes millions of rows and this is its inner loop.
public struct ScanRowWriter: Sendable {
    public var bytes: [UInt8] = []
    private var scratch: [UInt8] = []

    public init(capacity: Int = 1 << 20) {
        bytes.reserveCapacity(capacity)
        scratch.reserveCapacity(4096)
    }

    /// A file's metadata as the scanner read it; times are seconds and nanoseconds since the epoch.
    public struct File {
        public var path: UnsafeBufferPointer<UInt8>
        public var size: Int64
        public var modified: (seconds: Int64, nanoseconds: Int64)
        public var accessed: (seconds: Int64, nanoseconds: Int64)
        public var mode: UInt32
        public var owner: [UInt8]
        public var hash: String?

        public init(path: UnsafeBufferPointer<UInt8>, size: Int64, modified: (seconds: Int64, nanoseconds: Int64),
                    accessed: (seconds: Int64, nanoseconds: Int64), mode: UInt32, owner: [UInt8], hash: String?) {
            self.path = path
            self.size = size
            self.modified = modified
            self.accessed = accessed
            self.mode = mode
            self.owner = owner
            self.hash = hash
        }
    }

    public mutating func write(_ file: File) {
        scratch.removeAll(keepingCapacity: true)
        PathEncoding.encode(file.path, into: &scratch)
        appendQuoted(scratch)
        bytes.append(0x2C)
        bytes.append(contentsOf: String(file.size).utf8)
        bytes.append(0x2C)
        RFC3339.write(seconds: file.modified.seconds, microseconds: file.modified.nanoseconds / 1000, into: &bytes)
        bytes.append(0x2C)
        RFC3339.write(seconds: file.accessed.seconds, microseconds: file.accessed.nanoseconds / 1000, into: &bytes)
        bytes.append(0x2C)
        appendExtension(ofEncodedPath: scratch)
        bytes.append(0x2C)
        let permissions = file.mode & 0o7777
        for shift in stride(from: 9, through: 0, by: -3) {
            bytes.append(0x30 + UInt8(truncatingIfNeeded: (permissions >> UInt32(shift)) & 7))
        }
        bytes.append(0x2C)
        appendQuoted(file.owner)
        bytes.append(0x2C)
        if let hash = file.hash { bytes.append(contentsOf: hash.utf8) }
        bytes.append(0x0A)
    }

    /// Hands over the rows written so far and starts an empty buffer of the same capacity.
    public mutating func take() -> [UInt8] {
        var taken: [UInt8] = []
        taken.reserveCapacity(bytes.capacity)
        swap(&taken, &bytes)
        return taken
    }

    private mutating func appendQuoted(_ field: [UInt8]) {
        guard field.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else {
            bytes.append(contentsOf: field)
            return
        }
        bytes.append(0x22)
        for byte in field {
            if byte == 0x22 { bytes.append(0x22) }
            bytes.append(byte)
        }
        bytes.append(0x22)
    }

    private mutating func appendExtension(ofEncodedPath path: [UInt8]) {
        appendQuoted(ScanCSV.fileExtension(ofEncodedPath: path))
    }
}
