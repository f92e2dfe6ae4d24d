import AltoModels
import CZlib
import CZstd

/// Streaming zstd or gzip decompression of uploaded batches. It never trusts the sender: output is capped by the
/// caller's limit as it is produced (a small body cannot expand without bound), and `finish` fails unless the
/// last frame or member ended, which is how a truncated upload is told from a complete one.
public final class Decompressor {
    public let format: IngestJob.Compression
    private var zstd: OpaquePointer?
    private var gzip: UnsafeMutablePointer<z_stream>?
    /// Where each step writes before its output is appended to the caller's buffer, allocated once.
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 17, alignment: 16)
    /// True between frames: everything fed so far decompressed into whole frames or members.
    private var atBoundary = true
    private var sawInput = false

    public init(_ format: IngestJob.Compression) throws(CompressionError) {
        self.format = format
        switch format {
        case .none:
            break
        case .zstd:
            guard let context = ZSTD_createDCtx() else { throw CompressionError("zstd could not allocate a context") }
            zstd = context
        case .gzip:
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            guard alto_inflate_init_gzip(stream) == Z_OK else {
                stream.deallocate()
                throw CompressionError("zlib could not start a gzip stream")
            }
            gzip = stream
        }
    }

    deinit {
        scratch.deallocate()
        if let zstd { ZSTD_freeDCtx(zstd) }
        if let gzip {
            inflateEnd(gzip)
            gzip.deallocate()
        }
    }

    /// Appends what `input` decompresses to onto `output`.
    public func decompress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws(CompressionError) {
        guard input.count > 0 else { return }
        sawInput = true
        switch format {
        case .none:
            output.append(contentsOf: input)
        case .zstd:
            var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
            while source.pos < source.size || !atBoundary {
                var target = ZSTD_outBuffer(dst: scratch.baseAddress, size: scratch.count, pos: 0)
                let result = ZSTD_decompressStream(zstd, &target, &source)
                if ZSTD_isError(result) != 0 {
                    throw CompressionError("the zstd stream is corrupt: \(String(cString: ZSTD_getErrorName(result)))")
                }
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<target.pos]))
                atBoundary = result == 0
                if source.pos == source.size && target.pos < scratch.count { break }
            }
        case .gzip:
            guard let gzip else { return }
            var remaining = input
            while !remaining.isEmpty {
                gzip.pointee.next_in = UnsafeMutablePointer(mutating: remaining.baseAddress!.assumingMemoryBound(to: Bytef.self))
                gzip.pointee.avail_in = uInt(remaining.count)
                var status = Z_OK
                repeat {
                    gzip.pointee.next_out = scratch.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    gzip.pointee.avail_out = uInt(scratch.count)
                    status = inflate(gzip, Z_NO_FLUSH)
                    let left = Int(gzip.pointee.avail_out)
                    guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                        throw CompressionError("the gzip stream is corrupt (zlib status \(status))")
                    }
                    output.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<(scratch.count - left)]))
                    atBoundary = status == Z_STREAM_END
                    if status == Z_BUF_ERROR || status == Z_STREAM_END { break }
                    if gzip.pointee.avail_in == 0 && left > 0 { break }
                } while true
                let consumed = remaining.count - Int(gzip.pointee.avail_in)
                remaining = UnsafeRawBufferPointer(rebasing: remaining[consumed...])
                if status == Z_STREAM_END {
                    inflateReset(gzip)
                } else if consumed == 0 && status == Z_BUF_ERROR {
                    throw CompressionError("the gzip stream is corrupt")
                }
            }
        }
    }

    public func decompress(_ input: [UInt8], into output: inout [UInt8]) throws(CompressionError) {
        let failure = input.withUnsafeBytes { bytes -> CompressionError? in
            do throws(CompressionError) {
                try decompress(bytes, into: &output)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }

    /// Confirms the stream ended where a frame or member ends.
    public func finish() throws(CompressionError) {
        guard format != .none else { return }
        guard sawInput else { throw CompressionError("the \(format.rawValue) stream is empty") }
        guard atBoundary else { throw CompressionError("the \(format.rawValue) stream is truncated: its last frame never ends") }
    }
}
