import AltoModels
import CZlib
import CZstd

/// Streaming zstd or gzip compression of scan batches. One instance per stream and per thread: feed it input in
/// pieces, then `finish` once; output is appended to the caller's buffer so nothing is held twice.
public final class Compressor {
    public let format: IngestJob.Compression
    private var zstd: OpaquePointer?
    private var gzip: UnsafeMutablePointer<z_stream>?
    /// Where each step writes before its output is appended to the caller's buffer, allocated once.
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 17, alignment: 16)

    /// `level` defaults to each format's fast setting (zstd 1, gzip 1): a scan is limited by how fast it can write
    /// rows, and both still shrink CSV about tenfold.
    public init(_ format: IngestJob.Compression, level: Int32 = 1) throws(CompressionError) {
        self.format = format
        switch format {
        case .none:
            break
        case .zstd:
            guard let context = ZSTD_createCCtx() else { throw CompressionError("zstd could not allocate a context") }
            zstd = context
            ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        case .gzip:
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            guard alto_deflate_init_gzip(stream, level) == Z_OK else {
                stream.deallocate()
                throw CompressionError("zlib could not start a gzip stream")
            }
            gzip = stream
        }
    }

    deinit {
        scratch.deallocate()
        if let zstd { ZSTD_freeCCtx(zstd) }
        if let gzip {
            deflateEnd(gzip)
            gzip.deallocate()
        }
    }

    public func compress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        run(input, finishing: false, into: &output)
    }

    public func compress(_ input: [UInt8], into output: inout [UInt8]) {
        input.withUnsafeBytes { compress($0, into: &output) }
    }

    /// Ends the stream (the zstd frame or gzip member) so a reader can tell it is complete.
    public func finish(into output: inout [UInt8]) {
        run(UnsafeRawBufferPointer(start: nil, count: 0), finishing: true, into: &output)
    }

    private func run(_ input: UnsafeRawBufferPointer, finishing: Bool, into output: inout [UInt8]) {
        switch format {
        case .none:
            output.append(contentsOf: input)
        case .zstd:
            var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
            while true {
                var target = ZSTD_outBuffer(dst: scratch.baseAddress, size: scratch.count, pos: 0)
                let remaining = ZSTD_compressStream2(zstd, &target, &source, finishing ? ZSTD_e_end : ZSTD_e_continue)
                precondition(ZSTD_isError(remaining) == 0, "zstd failed: \(String(cString: ZSTD_getErrorName(remaining)))")
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<target.pos]))
                if finishing ? remaining == 0 : source.pos == source.size { return }
            }
        case .gzip:
            guard let gzip else { return }
            gzip.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            gzip.pointee.avail_in = uInt(input.count)
            while true {
                gzip.pointee.next_out = scratch.baseAddress!.assumingMemoryBound(to: Bytef.self)
                gzip.pointee.avail_out = uInt(scratch.count)
                let status = deflate(gzip, finishing ? Z_FINISH : Z_NO_FLUSH)
                let left = Int(gzip.pointee.avail_out)
                precondition(status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR, "zlib failed: \(status)")
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<(scratch.count - left)]))
                if finishing ? status == Z_STREAM_END : (gzip.pointee.avail_in == 0 && left > 0) { return }
            }
        }
    }
}
