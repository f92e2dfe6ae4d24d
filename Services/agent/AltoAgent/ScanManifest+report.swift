import AltoModels
import Foundation

extension ScanManifest {
    /// One paragraph on what a scan saw, for the person who ran it.
    var report: String {
        let seconds = max(0.001, finishedAt.timeIntervalSince(startedAt))
        return "scanned \(summary.files) files, \(summary.bytes) bytes in \(summary.directories) directories in "
            + String(format: "%.2f s (%.0f files/s)", seconds, Double(summary.files) / seconds)
            + "; \(summary.unreadable) unreadable, \(summary.vanished) vanished, \(summary.excluded) excluded, "
            + "\(summary.otherFileSystems) other file systems skipped, \(summary.hashed) hashed; "
            + "\(batches.count) batches, scan \(scanID.uuidString.lowercased())"
            + summary.unreadableSamples.map { "\n  unreadable: \($0)" }.joined()
    }
}
