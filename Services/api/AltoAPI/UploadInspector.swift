import AltoCompression
import AltoModels
import NIOCore

/// Looks at an upload as it streams in, without keeping it: decompresses each piece to check that the stream is
/// whole and not corrupt, that it begins with a CSV header line (of files, or of deletions), and that it does not
/// expand past the limit,
/// counted as it expands, so a small compressed body costs one decompression buffer before it is refused however
/// far it would go.
struct UploadInspector {
    private let decompressor: Decompressor
    private let maximumCSVBytes: Int
    private var headerChecked = false
    private var headerBytes: [UInt8] = []
    private(set) var csvBytes = 0
    /// What the header line says the batch lists.
    private(set) var kind = IngestJob.Kind.files

    init(compression: IngestJob.Compression, maximumCSVBytes: Int) throws {
        decompressor = try Decompressor(compression)
        self.maximumCSVBytes = maximumCSVBytes
    }

    mutating func inspect(_ piece: ByteBuffer) throws {
        do {
            try piece.withUnsafeReadableBytes { bytes in
                try decompressor.decompress(bytes) { csv in
                    csvBytes += csv.count
                    guard csvBytes <= maximumCSVBytes else {
                        throw APIError(.contentTooLarge, "too_large",
                                       "the batch expands to more than \(maximumCSVBytes) bytes of CSV; cut smaller batches")
                    }
                    if !headerChecked { try checkHeader(csv) }
                }
            }
        } catch let error as CompressionError {
            throw APIError.badRequest("invalid_compression", "\(error)")
        }
    }

    /// Ends the stream: the last frame must be complete and the header must have come.
    mutating func finish() throws {
        do {
            try decompressor.finish()
        } catch {
            throw APIError.badRequest("invalid_compression", "\(error)")
        }
        if !headerChecked {
            try checkHeader(UnsafeRawBufferPointer(start: nil, count: 0), ended: true)
        }
    }

    private mutating func checkHeader(_ csv: UnsafeRawBufferPointer, ended: Bool = false) throws {
        headerBytes.append(contentsOf: csv.prefix(4096))
        if ended { headerBytes.append(0x0A) }
        guard let end = headerBytes.firstIndex(of: 0x0A) else {
            guard headerBytes.count < 4096 else { throw Self.wrongHeader }
            return
        }
        var line = headerBytes[..<end]
        if line.last == 0x0D { line = line.dropLast() }
        if line.elementsEqual(ScanCSV.header.utf8.dropLast()) {
            kind = .files
        } else if line.elementsEqual(ScanCSV.deletionHeader.utf8.dropLast()) {
            kind = .deletions
        } else {
            throw Self.wrongHeader
        }
        headerChecked = true
        headerBytes = []
    }

    private static let wrongHeader = APIError.badRequest(
        "invalid_csv", "the first line must be the header \(ScanCSV.columns.joined(separator: ",")) (or, in a batch of deletions, "
            + "\(ScanCSV.deletionColumns.joined(separator: ",")))")
}
