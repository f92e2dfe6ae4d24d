import AltoCompression
import AltoModels
import Foundation

/// Rows for the ingest benchmark, the same every run: a file server's worth of paths seven folders deep, with
/// sizes, times, extensions and owners spread the way a share's are. Written both as the agent's spool (zstd
/// batches and a manifest, uploaded by `alto-agent upload` as its own) and as one plain CSV for the baseline.
struct RowGenerator {
    let rows: Int
    let batchBytes: Int

    private static let extensions = ["docx", "xlsx", "pdf", "jpg", "png", "txt", "zip", "mp4", "pptx", "csv", "log", "bak"]

    func rowBytes(_ index: Int, into writer: inout ScanRowWriter) {
        var state = UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state >> 33
            state = state &* 0xFF51_AFD7_ED55_8CCD
            state ^= state >> 33
            return state
        }
        let department = index / 100_000, project = index / 2_000, folder = index / 200
        let ext = Self.extensions[Int(next() % UInt64(Self.extensions.count))]
        let path = "/srv/share/dept\(department)/project\(project)/work/area\(folder % 7)/folder\(folder)/document-\(index).\(ext)"
        let modified = 1_420_070_400 + Int64(next() % 315_360_000)
        let accessed = modified + Int64(next() % 31_536_000)
        let owner = Array("user\(next() % 40)".utf8)
        Array(path.utf8).withUnsafeBufferPointer { pathBytes in
            writer.write(ScanRowWriter.File(path: pathBytes, size: Int64(next() % 50_000_000), modified: (modified, 0),
                                            accessed: (accessed, 0), mode: 0o100644, owner: owner, hash: nil))
        }
    }

    /// Writes a finished scan into `<spool>/<scan id>/` and returns its manifest.
    /// A scan of the rows as the agent spools it: every row (`complete`), or, for a re-scan of the same files
    /// unchanged, what a listing of changes holds: no row and no deletion.
    func writeSpool(_ spool: String, listing: IngestJob.Listing = .complete) throws -> ScanManifest {
        let rows = listing == .complete ? self.rows : 0
        let scanID = UUID()
        let folder = spool + "/" + scanID.uuidString.lowercased()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var batches: [ScanManifest.Batch] = []
        var writer = ScanRowWriter()
        var index = 0
        while index < rows || batches.isEmpty {
            let compressor = try Compressor(.zstd)
            var compressed: [UInt8] = []
            compressor.compress(Array(ScanCSV.header.utf8), into: &compressed)
            var csvBytes = 0
            var batchRows = 0
            while index < rows && csvBytes < batchBytes {
                rowBytes(index, into: &writer)
                index += 1
                batchRows += 1
                if writer.bytes.count >= 1 << 20 || index == rows {
                    csvBytes += writer.bytes.count
                    compressor.compress(writer.take(), into: &compressed)
                }
            }
            compressor.finish(into: &compressed)
            let batchID = UUID()
            let name = String(format: "%06d-%@.csv.zst", batches.count, batchID.uuidString.lowercased())
            try Data(compressed).write(to: URL(fileURLWithPath: folder + "/" + name))
            batches.append(ScanManifest.Batch(index: batches.count, batchID: batchID, file: name, rows: batchRows, bytes: compressed.count))
        }
        var summary = ScanSummary()
        summary.files = self.rows
        let manifest = ScanManifest(scanID: scanID, roots: ["/srv/share"], startedAt: Date(), finishedAt: Date(), isFullScan: true,
                                    compression: .zstd, batches: batches, summary: summary, listing: listing)
        try AltoJSON.encoder().encode(manifest).write(to: URL(fileURLWithPath: folder + "/" + ScanManifest.fileName))
        return manifest
    }

    /// Writes every row into one plain CSV file with its header.
    func writeCSV(_ file: String) throws {
        guard FileManager.default.createFile(atPath: file, contents: nil) else { throw BenchError("cannot create \(file)") }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        defer { try? handle.close() }
        var writer = ScanRowWriter()
        writer.bytes.append(contentsOf: ScanCSV.header.utf8)
        for index in 0..<rows {
            rowBytes(index, into: &writer)
            if writer.bytes.count >= 4 << 20 { try handle.write(contentsOf: writer.take()) }
        }
        try handle.write(contentsOf: writer.take())
    }
}
