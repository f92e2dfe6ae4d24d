import AltoTiering
import Synchronization

/// What a restore did, counted as its outcomes arrive from its parallel copies.
final class RestoreCounts: Sendable {
    private struct Counts {
        var restored = 0
        var bytes: Int64 = 0
        var skipped = 0
        var failed = 0
    }

    private let counts = Mutex(Counts())

    func add(_ outcome: TreeRestore.Outcome) {
        counts.withLock { counts in
            switch outcome {
            case .restored(_, let bytes):
                counts.restored += 1
                counts.bytes += bytes
            case .skipped: counts.skipped += 1
            case .failed: counts.failed += 1
            }
        }
    }

    var failed: Int { counts.withLock { $0.failed } }

    var summary: String {
        counts.withLock { "restored \($0.restored) files (\($0.bytes) bytes), skipped \($0.skipped), failed \($0.failed)" }
    }
}
