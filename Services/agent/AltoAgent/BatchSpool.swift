import AltoCompression
import AltoModels
import Foundation
import Glibc

/// Writes one scan's rows into compressed batch files in its spool folder, cutting a new batch whenever the
/// current one holds `batchBytes` of CSV. Worker threads hand it chunks of whole rows; each batch starts with
/// the header line and is renamed into place only once it is complete and on disk.
final class BatchSpool: @unchecked Sendable {
    let folder: String
    let compression: IngestJob.Compression
    let batchBytes: Int

    // Guarded by `lock`.
    private let lock = NSLock()
    private var batches: [ScanManifest.Batch] = []
    private var current: OpenBatch?
    private var failure: (any Error)?

    private final class OpenBatch {
        let batch: ScanManifest.Batch
        let compressor: Compressor
        let descriptor: Int32
        var rows = 0
        var csvBytes = 0
        var output: [UInt8] = []

        init(batch: ScanManifest.Batch, compressor: Compressor, descriptor: Int32) {
            self.batch = batch
            self.compressor = compressor
            self.descriptor = descriptor
        }
    }

    init(folder: String, compression: IngestJob.Compression, batchBytes: Int) throws {
        self.folder = folder
        self.compression = compression
        self.batchBytes = batchBytes
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    static func fileExtension(_ compression: IngestJob.Compression) -> String {
        switch compression {
        case .none: "csv"
        case .gzip: "csv.gz"
        case .zstd: "csv.zst"
        }
    }

    /// Adds `rowCount` complete rows.
    func append(_ rows: [UInt8], rowCount: Int) {
        lock.lock()
        defer { lock.unlock() }
        guard failure == nil else { return }
        do {
            let batch = try current ?? open(.files)
            batch.compressor.compress(rows, into: &batch.output)
            batch.rows += rowCount
            batch.csvBytes += rows.count
            if batch.output.count >= 1 << 20 { try flush(batch) }
            if batch.csvBytes >= batchBytes { try close(batch) }
        } catch {
            failure = error
        }
    }

    /// Closes the last batch (a scan that found nothing still gets one batch, so a full scan can retire what is
    /// gone), writes the keys of the files a listing of changes no longer found into batches of deletions after
    /// it, and returns them all in order.
    func finish(deletions: [UInt64] = []) throws -> [ScanManifest.Batch] {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        if let current {
            try close(current)
        } else if batches.isEmpty {
            try close(try open(.files))
        }
        var lines: [UInt8] = []
        var keys = 0
        for (index, key) in deletions.enumerated() {
            lines.append(contentsOf: String(PathKey.stored(key)).utf8)
            lines.append(0x0A)
            keys += 1
            if lines.count >= 1 << 16 || index == deletions.count - 1 {
                let batch = try current ?? open(.deletions)
                batch.compressor.compress(lines, into: &batch.output)
                batch.rows += keys
                batch.csvBytes += lines.count
                lines.removeAll(keepingCapacity: true)
                keys = 0
                if batch.output.count >= 1 << 20 { try flush(batch) }
                if batch.csvBytes >= batchBytes { try close(batch) }
            }
        }
        if let current { try close(current) }
        return batches
    }

    private func open(_ kind: IngestJob.Kind) throws -> OpenBatch {
        let index = batches.count
        let batchID = UUID()
        let name = String(format: "%06d-%@.%@", index, batchID.uuidString.lowercased(), Self.fileExtension(compression))
        let descriptor = Glibc.open(folder + "/" + name + ".partial", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw AgentError("cannot write a batch in \(folder): \(String(cString: strerror(errno)))") }
        let batch = OpenBatch(batch: ScanManifest.Batch(index: index, batchID: batchID, file: name, rows: 0, bytes: 0, kind: kind),
                              compressor: try Compressor(compression), descriptor: descriptor)
        let header = kind == .files ? ScanCSV.header : ScanCSV.deletionHeader
        batch.compressor.compress(Array(header.utf8), into: &batch.output)
        batch.csvBytes = header.utf8.count
        current = batch
        return batch
    }

    private func flush(_ batch: OpenBatch) throws {
        var offset = 0
        try batch.output.withUnsafeBytes { bytes in
            while offset < bytes.count {
                let written = write(batch.descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                guard written > 0 else {
                    if written < 0 && errno == EINTR { continue }
                    throw AgentError("cannot write a batch in \(folder): \(String(cString: strerror(errno)))")
                }
                offset += written
            }
        }
        batch.output.removeAll(keepingCapacity: true)
    }

    private func close(_ batch: OpenBatch) throws {
        batch.compressor.finish(into: &batch.output)
        try flush(batch)
        var size = stat()
        fstat(batch.descriptor, &size)
        let synced = fsync(batch.descriptor)
        Glibc.close(batch.descriptor)
        current = nil
        guard synced == 0 else { throw AgentError("cannot sync a batch in \(folder): \(String(cString: strerror(errno)))") }
        let path = folder + "/" + batch.batch.file
        guard rename(path + ".partial", path) == 0 else {
            throw AgentError("cannot finish batch \(path): \(String(cString: strerror(errno)))")
        }
        var finished = batch.batch
        finished.rows = batch.rows
        finished.bytes = Int(size.st_size)
        batches.append(finished)
    }
}
