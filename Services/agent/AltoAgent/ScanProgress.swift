import Foundation
import Glibc
import Synchronization

/// Files and bytes a running scan has written so far, shared by its workers, and the progress line drawn from
/// them on a terminal (files, bytes, files/s). Nothing is drawn when standard error is not a terminal, so logs
/// stay quiet.
final class ScanProgress: Sendable {
    let files = Atomic<Int>(0)
    let bytes = Atomic<Int64>(0)
    private let done = Atomic<Bool>(false)
    private let cancelled = Atomic<Bool>(false)
    private let started = ContinuousClock.now

    /// Asks the scan's workers to stop after the directory in hand; the scan then ends unfinished.
    func cancel() {
        cancelled.store(true, ordering: .relaxed)
    }

    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    func add(files: Int, bytes: Int64) {
        self.files.add(files, ordering: .relaxed)
        self.bytes.add(bytes, ordering: .relaxed)
    }

    /// Draws the line twice a second until `stop`, when standard error is a terminal.
    func startDrawing() {
        guard isatty(STDERR_FILENO) == 1 else { return }
        let thread = Thread { [self] in
            while !done.load(ordering: .relaxed) {
                draw(final: false)
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        thread.start()
    }

    func stop() {
        guard !done.exchange(true, ordering: .relaxed) else { return }
        if isatty(STDERR_FILENO) == 1 { draw(final: true) }
    }

    private func draw(final: Bool) {
        let seconds = max(0.001, (ContinuousClock.now - started) / .seconds(1))
        let count = files.load(ordering: .relaxed)
        let line = String(format: "\r%@ files, %@, %.0f files/s%@", String(count), Self.describe(bytes: bytes.load(ordering: .relaxed)),
                          Double(count) / seconds, final ? "\n" : "")
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func describe(bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}
