import AltoModels
import CZlib
import CZstd

/// Streaming zstd or gzip decompression of uploaded batches. It never trusts the sender: output is handed to the
/// caller a scratch buffer at a time, so a caller that counts can stop a small body that would expand without bound
/// after one buffer, and a zstd frame may not ask for a window larger than `maximumWindowLog` (the memory one stream
/// costs); `finish` fails unless the last frame or member ended, which is how a truncated upload is told from a
/// complete one.
public final class Decompressor {
    /// 8 MiB: zstd's levels up to 18 use no larger window, and ten uploads at once still cost less than 100 MiB.
    public static let defaultMaximumWindowLog: Int32 = 23

    public let format: IngestJob.Compression
    private var zstd: OpaquePointer?
    private var gzip: UnsafeMutablePointer<z_stream>?
    /// Where each step writes before its output is appended to the caller's buffer, allocated once.
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 17, alignment: 16)
    /// True between frames: everything fed so far decompressed into whole frames or members.
    private var atBoundary = true
    private var sawInput = false

    public init(_ format: IngestJob.Compression, maximumWindowLog: Int32 = Decompressor.defaultMaximumWindowLog) throws(CompressionError) {
        self.format = format
        switch format {
        case .none:
            break
        case .zstd:
            guard let context = ZSTD_createDCtx() else { throw CompressionError("zstd could not allocate a context") }
            zstd = context
            guard ZSTD_isError(ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, maximumWindowLog)) == 0 else {
                throw CompressionError("zstd refused a window limit of 2^\(maximumWindowLog) bytes")
            }
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

    /// Hands what `input` decompresses to to `body`, at most a scratch buffer (128 KiB) at a time, so the caller
    /// holds one piece whatever the input expands to. An error thrown by `body` stops the decompression and is
    /// thrown on; the stream's own damage throws a `CompressionError`.
    public func decompress(_ input: UnsafeRawBufferPointer, each body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard input.count > 0 else { return }
        sawInput = true
        switch format {
        case .none:
            var offset = 0
            while offset < input.count {
                let end = min(input.count, offset + scratch.count)
                try body(UnsafeRawBufferPointer(rebasing: input[offset..<end]))
                offset = end
            }
        case .zstd:
            var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
            while source.pos < source.size || !atBoundary {
                var target = ZSTD_outBuffer(dst: scratch.baseAddress, size: scratch.count, pos: 0)
                let result = ZSTD_decompressStream(zstd, &target, &source)
                if ZSTD_isError(result) != 0 {
                    throw CompressionError("the zstd stream is corrupt: \(String(cString: ZSTD_getErrorName(result)))")
                }
                if target.pos > 0 { try body(UnsafeRawBufferPointer(rebasing: scratch[..<target.pos])) }
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
                    if left < scratch.count { try body(UnsafeRawBufferPointer(rebasing: scratch[..<(scratch.count - left)])) }
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

    /// Appends what `input` decompresses to onto `output`, for callers that know the input is their own.
    public func decompress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws(CompressionError) {
        do {
            try decompress(input) { output.append(contentsOf: $0) }
        } catch let error as CompressionError {
            throw error
        } catch {
            throw CompressionError("\(error)")
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
