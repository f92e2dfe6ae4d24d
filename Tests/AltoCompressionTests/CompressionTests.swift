import AltoCompression
import AltoModels
import Testing

@Suite struct CompressionTests {
    static let text = Array((0..<20_000).map { "/srv/share/folder\($0 % 97)/file\($0).txt,\($0),2025-01-01T00:00:00Z\n" }.joined().utf8)

    func compressed(_ format: IngestJob.Compression, _ input: [UInt8]) throws -> [UInt8] {
        let compressor = try Compressor(format)
        var output: [UInt8] = []
        for start in stride(from: 0, to: input.count, by: 10_000) {
            compressor.compress(Array(input[start..<min(start + 10_000, input.count)]), into: &output)
        }
        compressor.finish(into: &output)
        return output
    }

    func decompressed(_ format: IngestJob.Compression, _ input: [UInt8], piece: Int) throws -> [UInt8] {
        let decompressor = try Decompressor(format)
        var output: [UInt8] = []
        for start in stride(from: 0, to: input.count, by: piece) {
            try decompressor.decompress(Array(input[start..<min(start + piece, input.count)]), into: &output)
        }
        try decompressor.finish()
        return output
    }

    @Test(arguments: [IngestJob.Compression.zstd, .gzip, .none])
    func roundTripsInAnyPieces(format: IngestJob.Compression) throws {
        let packed = try compressed(format, Self.text)
        if format != .none { #expect(packed.count < Self.text.count / 5) }
        for piece in [1, 7, 4096, packed.count] {
            #expect(try decompressed(format, packed, piece: piece) == Self.text)
        }
    }

    @Test(arguments: [IngestJob.Compression.zstd, .gzip])
    func concatenatedStreamsAreOneBatch(format: IngestJob.Compression) throws {
        let twice = try compressed(format, Array(Self.text.prefix(1000))) + compressed(format, Array(Self.text.dropFirst(1000)))
        #expect(try decompressed(format, twice, piece: 333) == Self.text)
    }

    @Test(arguments: [IngestJob.Compression.zstd, .gzip])
    func aTruncatedStreamIsRefused(format: IngestJob.Compression) throws {
        let packed = try compressed(format, Self.text)
        #expect(throws: CompressionError.self) { try decompressed(format, Array(packed.dropLast(10)), piece: 4096) }
    }

    @Test(arguments: [IngestJob.Compression.zstd, .gzip])
    func corruptOrForeignBytesAreRefused(format: IngestJob.Compression) throws {
        #expect(throws: CompressionError.self) { try decompressed(format, Array("file_path,file_size\n".utf8), piece: 4096) }
        #expect(throws: CompressionError.self) { try decompressed(format, [], piece: 1) }
    }
}
