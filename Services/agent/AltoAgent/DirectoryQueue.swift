import Foundation

/// The directories a parallel scan still has to read, shared by its worker threads. A worker takes one, reads it,
/// and hands back the subdirectories it found; the walk is over when nothing is queued and no worker is reading,
/// because only a reading worker can add more. Depth first, so the queue stays as small as the tree is deep.
final class DirectoryQueue: @unchecked Sendable {
    struct Directory: Sendable {
        var path: [UInt8]
        /// The device of the root it belongs to, for staying on one file system.
        var device: UInt64
    }

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var pending: [Directory]
    private var reading = 0

    init(_ roots: [Directory]) {
        pending = roots.reversed()
    }

    /// The next directory to read, waiting while other workers may still add some; nil once the walk is over.
    func next() -> Directory? {
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty {
            if reading == 0 { return nil }
            condition.wait()
        }
        reading += 1
        return pending.removeLast()
    }

    /// Called once per directory `next` gave out, with the subdirectories found in it.
    func finished(adding subdirectories: [Directory]) {
        condition.lock()
        defer { condition.unlock() }
        reading -= 1
        pending.append(contentsOf: subdirectories.reversed())
        if !subdirectories.isEmpty || reading == 0 { condition.broadcast() }
    }
}
