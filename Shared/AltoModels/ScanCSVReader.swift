/// Reads the agent's CSV as it arrives, in pieces of any size, and hands out one row at a time: RFC 4180 quoting
/// (a quoted field may hold commas, quotes doubled, CR and LF, and may span pieces), rows ended by LF, CRLF or
/// CR. Its memory is one row, whatever the size of the batch, and a row no longer than `maximumRowBytes`: a longer
/// one is read to its end without being kept and handed out as overlong, to be rejected. The first row must be the
/// header.
public struct ScanCSVReader {
    /// The longest row kept by default: far beyond any real path (Windows' longest is 32,767 UTF-16 units, about
    /// 96 KiB of UTF-8), small enough that a hostile upload cannot make a row the size of the batch.
    public static let defaultMaximumRowBytes = 256 << 10

    /// One row's fields, unquoted, back to back in `bytes`; valid until the reader's next call.
    public struct Row {
        /// 1-based line where the row starts, the header being line 1.
        public let line: Int
        public let bytes: [UInt8]
        let ends: [Int]
        /// The row ran past the reader's limit; its fields were not kept.
        public let isOverlong: Bool

        public var fieldCount: Int { ends.count }

        public func field(_ index: Int) -> ArraySlice<UInt8> {
            bytes[(index == 0 ? 0 : ends[index - 1])..<ends[index]]
        }

        /// The row as CSV text again, for a reject report.
        public var text: String {
            (0..<fieldCount).map { ScanCSV.quoted(String(decoding: field($0), as: UTF8.self)) }.joined(separator: ",")
        }
    }

    private enum State {
        case fieldStart, unquoted, quoted, quoteInQuoted, afterCR
    }

    private var state = State.fieldStart
    private var bytes: [UInt8] = []
    private var ends: [Int] = []
    private var line = 1
    private var rowLine = 1
    private var sawHeader = false
    /// True while the current row has any content, so a final row without a line end is still a row.
    private var rowStarted = false
    private let maximumRowBytes: Int
    private var overlong = false
    /// The header line's fields: a batch of files' or of deletions'.
    private let columns: [String]

    public init(maximumRowBytes: Int = ScanCSVReader.defaultMaximumRowBytes, columns: [String] = ScanCSV.columns) {
        self.maximumRowBytes = maximumRowBytes
        self.columns = columns
        bytes.reserveCapacity(4096)
        ends.reserveCapacity(columns.count + 1)
    }

    /// Reads `input`, calling `body` for every row it completes.
    public mutating func read(_ raw: UnsafeRawBufferPointer, _ body: (Row) throws -> Void) throws {
        let input = raw.bindMemory(to: UInt8.self)
        let count = input.count
        var index = 0
        while index < count {
            if bytes.count + ends.count > maximumRowBytes {
                overlong = true
                bytes.removeAll(keepingCapacity: true)
                ends.removeAll(keepingCapacity: true)
            }
            let byte = input[index]
            switch state {
            case .afterCR:
                state = .fieldStart
                if byte == 0x0A {
                    index += 1
                    continue
                }
                continue
            case .fieldStart, .unquoted:
                if state == .fieldStart && byte == 0x22 {
                    state = .quoted
                    rowStarted = true
                    index += 1
                    continue
                }
                var end = index
                while end < count {
                    let next = input[end]
                    if next == 0x2C || next == 0x0A || next == 0x0D || next == 0x22 { break }
                    end += 1
                }
                if end > index {
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: input[index..<end]))
                    rowStarted = true
                    state = .unquoted
                    index = end
                    continue
                }
                switch byte {
                case 0x2C:
                    ends.append(bytes.count)
                    rowStarted = true
                    state = .fieldStart
                case 0x0A, 0x0D:
                    line += 1
                    try endRow(body)
                    state = byte == 0x0D ? .afterCR : .fieldStart
                default:
                    bytes.append(byte)
                }
                index += 1
            case .quoted:
                var end = index
                while end < count, input[end] != 0x22 {
                    if input[end] == 0x0A { line += 1 }
                    end += 1
                }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: input[index..<end]))
                if end < count { state = .quoteInQuoted }
                index = end + 1
            case .quoteInQuoted:
                switch byte {
                case 0x22:
                    bytes.append(0x22)
                    state = .quoted
                case 0x2C:
                    ends.append(bytes.count)
                    state = .fieldStart
                case 0x0A, 0x0D:
                    line += 1
                    try endRow(body)
                    state = byte == 0x0D ? .afterCR : .fieldStart
                default:
                    bytes.append(byte)
                    state = .unquoted
                }
                index += 1
            }
        }
    }

    public mutating func read(_ input: [UInt8], _ body: (Row) throws -> Void) throws {
        try input.withUnsafeBytes { try read($0, body) }
    }

    /// Ends the input: a last row without a line end is still a row; an open quote or a missing header is an
    /// error of the whole batch.
    public mutating func finish(_ body: (Row) throws -> Void) throws {
        if state == .quoted {
            throw ScanCSV.FormatError(message: "line \(rowLine): a quoted field never closes")
        }
        if rowStarted { try endRow(body) }
        guard sawHeader else { throw ScanCSV.FormatError(message: "the batch is empty: no header line") }
    }

    private mutating func endRow(_ body: (Row) throws -> Void) throws {
        if bytes.count + ends.count > maximumRowBytes { overlong = true }
        if overlong {
            bytes.removeAll(keepingCapacity: true)
            ends.removeAll(keepingCapacity: true)
        }
        ends.append(bytes.count)
        // The row is a temporary, released before the buffers are cleared, so they are reused rather than copied.
        if sawHeader {
            try body(Row(line: rowLine, bytes: bytes, ends: ends, isOverlong: overlong))
        } else {
            try checkHeader(Row(line: rowLine, bytes: bytes, ends: ends, isOverlong: overlong))
            sawHeader = true
        }
        overlong = false
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        rowStarted = false
        rowLine = line
    }

    private func checkHeader(_ row: Row) throws {
        guard row.fieldCount == columns.count, (0..<row.fieldCount).allSatisfy({ row.field($0).elementsEqual(columns[$0].utf8) })
        else {
            throw ScanCSV.FormatError(message: "the header line must be \(columns.joined(separator: ","))")
        }
    }
}
