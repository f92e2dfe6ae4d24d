import AltoModels
import Foundation
import NIOCore

/// An upload's compressed bytes, received and checked, on local disk in a file unlinked as soon as it was made (a
/// crash leaves nothing behind). Staging reads it back with a database connection in hand only for as long as
/// copying a local file takes, never while a client is slow.
final class SpooledUpload: Sendable {
    private let descriptor: Int32
    let compressedBytes: Int
    let csvBytes: Int
    /// Files or deletions, as the header line said.
    let kind: IngestJob.Kind

    fileprivate init(descriptor: Int32, compressedBytes: Int, csvBytes: Int, kind: IngestJob.Kind) {
        self.descriptor = descriptor
        self.compressedBytes = compressedBytes
        self.csvBytes = csvBytes
        self.kind = kind
    }

    deinit { close(descriptor) }

    /// Reads the upload back in pieces of `size` bytes, in order.
    func forEachChunk(of size: Int, _ body: (ByteBuffer) async throws -> Void) async throws {
        var offset = 0
        var buffer = ByteBuffer()
        while offset < compressedBytes {
            buffer.clear(minimumCapacity: size)
            let wanted = min(size, compressedBytes - offset)
            let read = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { space in
                let count = pread(descriptor, space.baseAddress, wanted, off_t(offset))
                guard count > 0 else { throw SpoolFailure("cannot read the spooled upload back: \(String(cString: strerror(errno)))") }
                return count
            }
            offset += read
            try await body(buffer)
        }
    }

    /// Where an upload is written while it arrives.
    struct Writer: ~Copyable {
        private let descriptor: Int32
        private(set) var count = 0

        init(folder: String) throws {
            var template = Array("\(folder)/alto-upload-XXXXXX".utf8CString)
            descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard descriptor >= 0 else {
                throw SpoolFailure("cannot make a spool file in \(folder): \(String(cString: strerror(errno)))")
            }
            _ = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
        }

        deinit { close(descriptor) }

        mutating func append(_ piece: ByteBuffer) throws {
            try piece.withUnsafeReadableBytes { bytes in
                var written = 0
                while written < bytes.count {
                    let result = write(descriptor, bytes.baseAddress! + written, bytes.count - written)
                    if result < 0 && errno == EINTR { continue }
                    guard result > 0 else { throw SpoolFailure("cannot spool the upload: \(String(cString: strerror(errno)))") }
                    written += result
                }
            }
            count += piece.readableBytes
        }

        /// What was written, handed on with its descriptor.
        consuming func finish(csvBytes: Int, kind: IngestJob.Kind) -> SpooledUpload {
            let upload = SpooledUpload(descriptor: descriptor, compressedBytes: count, csvBytes: csvBytes, kind: kind)
            discard self
            return upload
        }
    }
}

/// The API's own disk failed it: an error of the server, not of the request.
struct SpoolFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
