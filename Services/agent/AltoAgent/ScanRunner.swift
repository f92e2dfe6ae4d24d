import AltoModels
import Foundation
import Metrics

/// Runs one scan into a spool folder of its own: batches first, then the manifest that marks the scan finished,
/// then (in `changed` hash mode) the index the next scan compares against.
struct ScanRunner: Sendable {
    let options: ScanOptions
    /// Scans are written to `<spool>/<scan id>/`.
    let spoolFolder: String
    /// Where the scan index lives between scans; nil keeps none.
    let stateFolder: String?

    func run(progress: ScanProgress) throws -> ScanManifest {
        let scanID = UUID()
        let startedAt = Date()
        let folder = spoolFolder + "/" + scanID.uuidString.lowercased()
        let lock = try ScanLock(spoolFolder: spoolFolder, scanID: scanID.uuidString.lowercased())
        defer { lock.release() }
        let spool = try BatchSpool(folder: folder, compression: options.compression, batchBytes: options.batchBytes)
        let indexFile = stateFolder.map { ScanIndex.file(stateFolder: $0, roots: options.roots) }
        let tracksChanges = options.hashMode == .changed && indexFile != nil
        let previous = tracksChanges ? indexFile.flatMap(ScanIndex.load) : nil
        let recorder = tracksChanges ? ScanIndex.Recorder() : nil
        let scanner = ParallelTreeScanner(options: options, previous: previous, progress: progress)
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
        let manifest = ScanManifest(scanID: scanID, roots: options.roots, startedAt: startedAt, finishedAt: Date(),
                                    isFullScan: options.isFullScan, compression: options.compression,
                                    batches: try spool.finish(), summary: summary)
        try AltoJSON.encoder().encode(manifest).write(to: URL(fileURLWithPath: folder + "/" + ScanManifest.fileName), options: .atomic)
        if let recorder, let indexFile { try recorder.save(to: indexFile) }
        Counter(label: "alto_agent_scans_total", dimensions: [("result", "done")]).increment()
        Timer(label: "alto_agent_scan_duration_seconds").recordSeconds(manifest.finishedAt.timeIntervalSince(startedAt))
        Counter(label: "alto_agent_scan_files_total").increment(by: summary.files)
        Gauge(label: "alto_agent_scan_files").record(summary.files)
        return manifest
    }
}
