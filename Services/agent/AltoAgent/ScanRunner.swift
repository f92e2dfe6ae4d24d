import AltoModels
import Foundation
import Metrics

/// Runs one scan into a spool folder of its own: batches first, then the manifest that marks the scan finished,
/// then the index the next scan compares against once this one is uploaded. A full scan with the previous scan's
/// index lists only the files that changed since and the keys of those gone, once the API said it takes such
/// listings, but every `completeListingEvery`th scan lists every file, as does a scan while an earlier one waits to
/// be uploaded.
struct ScanRunner: Sendable {
    let options: ScanOptions
    /// Scans are written to `<spool>/<scan id>/`.
    let spoolFolder: String
    /// Where the scan index lives between scans, and the host it describes; nil keeps none.
    let stateFolder: String?
    var host: UUID?

    init(options: ScanOptions, spoolFolder: String, stateFolder: String?, host: UUID? = nil) {
        self.options = options
        self.spoolFolder = spoolFolder
        self.stateFolder = stateFolder
        self.host = host
    }

    func run(progress: ScanProgress) throws -> ScanManifest {
        let scanID = UUID()
        let startedAt = Date()
        let folder = spoolFolder + "/" + scanID.uuidString.lowercased()
        let lock = try ScanLock(spoolFolder: spoolFolder, scanID: scanID.uuidString.lowercased())
        defer { lock.release() }
        let spool = try BatchSpool(folder: folder, compression: options.compression, batchBytes: options.batchBytes)
        let indexFile = stateFolder.flatMap { folder in host.map { ScanIndex.file(stateFolder: folder, host: $0, roots: options.roots) } }
        let previous = indexFile.flatMap(ScanIndex.load)
        let recorder = indexFile.map { _ in ScanIndex.Recorder() }
        let takesChanges = stateFolder.map { FileManager.default.fileExists(atPath: ScanIndex.changesMarker(stateFolder: $0)) } ?? false
        let listing: IngestJob.Listing = if options.isFullScan, takesChanges, let previous, let indexFile, !ScanIndex.hasPending(indexFile),
                                            previous.listingsOfChanges + 1 < options.completeListingEvery {
            .changes
        } else {
            .complete
        }
        var scanner = ParallelTreeScanner(options: options, previous: previous, progress: progress)
        scanner.listsChanges = listing == .changes
        progress.startDrawing()
        let summary: ScanSummary
        do {
            summary = try scanner.scan(into: spool, recorder: recorder)
            progress.stop()
            if progress.isCancelled { throw CancellationError() }
        } catch {
            progress.stop()
            try? FileManager.default.removeItem(atPath: folder)
            Counter(label: "alto_agent_scans_total", dimensions: [("result", "failed")]).increment()
            throw error
        }
        // As in a complete listing, a folder that could not be read lists none of its files, which are then gone.
        let deletions = listing == .changes ? recorder.flatMap { recorder in previous.map(recorder.keysGone) } ?? [] : []
        let manifest = ScanManifest(scanID: scanID, roots: options.roots, startedAt: startedAt, finishedAt: Date(),
                                    isFullScan: options.isFullScan, compression: options.compression,
                                    batches: try spool.finish(deletions: deletions), summary: summary, listing: listing)
        try AltoJSON.encoder().encode(manifest).write(to: URL(fileURLWithPath: folder + "/" + ScanManifest.fileName), options: .atomic)
        if let recorder, let indexFile {
            try recorder.save(to: ScanIndex.pendingFile(of: indexFile, scanID: scanID),
                              listingsOfChanges: listing == .changes ? (previous?.listingsOfChanges ?? 0) + 1 : 0)
        }
        Counter(label: "alto_agent_scans_total", dimensions: [("result", "done")]).increment()
        Timer(label: "alto_agent_scan_duration_seconds").recordSeconds(manifest.finishedAt.timeIntervalSince(startedAt))
        Counter(label: "alto_agent_scan_files_total").increment(by: summary.files)
        Gauge(label: "alto_agent_scan_files").record(summary.files)
        return manifest
    }
}
