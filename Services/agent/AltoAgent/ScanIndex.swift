import Foundation
import Glibc

/// The size and modification time of every file of the previous scan of the same roots, so a scan in `changed`
/// hash mode hashes only what changed. Paths are kept as 64-bit FNV-1a keys, 24 bytes a file, sorted for binary
/// search. A key collision can only cost a hash (the inventory drops a stored hash whose size or mtime moved),
/// never record a wrong one.
struct ScanIndex: Sendable {
    struct Entry: Sendable {
        var key: UInt64
        var size: Int64
        var modified: Int64

        init(path: [UInt8], size: Int64, modified: Int64) {
            self.key = Self.key(path)
            self.size = size
            self.modified = modified
        }

        static func key(_ path: [UInt8]) -> UInt64 {
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in path {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            }
            return hash
        }
    }

    private let entries: [Entry]

    /// The index file for a set of roots, in the agent's state folder.
    static func file(stateFolder: String, roots: [String]) -> String {
        let key = Entry.key(Array(roots.sorted().joined(separator: "\n").utf8))
        return stateFolder + "/scan-index/" + String(key, radix: 16) + ".bin"
    }

    /// The stored index, or nil when there is none or it cannot be read (then every file counts as changed).
    static func load(_ file: String) -> ScanIndex? {
        guard let data = FileManager.default.contents(atPath: file), data.count % MemoryLayout<Entry>.stride == 0 else { return nil }
        let entries = data.withUnsafeBytes { Array($0.bindMemory(to: Entry.self)) }
        return ScanIndex(entries: entries)
    }

    enum Change {
        case unchanged, changed
        /// Not in the previous scan: a new file has no earlier size or time to differ from.
        case new
    }

    func change(path: [UInt8], size: Int64, modified: Int64) -> Change {
        let key = Entry.key(path)
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].key < key { low = middle + 1 } else { high = middle }
        }
        var found = false
        while low < entries.count, entries[low].key == key {
            if entries[low].size == size && entries[low].modified == modified { return .unchanged }
            found = true
            low += 1
        }
        return found ? .changed : .new
    }

    /// Collects a running scan's entries from its workers and stores them as the next scan's index.
    final class Recorder: @unchecked Sendable {
        // Guarded by `lock`.
        private let lock = NSLock()
        private var entries: [Entry] = []

        func add(_ batch: [Entry]) {
            lock.lock()
            entries.append(contentsOf: batch)
            lock.unlock()
        }

        /// Writes the index next to its final place and renames it there, so a crash leaves the old one.
        func save(to file: String) throws {
            lock.lock()
            defer { lock.unlock() }
            entries.sort { $0.key < $1.key }
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let data = entries.withUnsafeBytes { Data($0) }
            try data.write(to: URL(fileURLWithPath: file), options: .atomic)
        }
    }
}
