import AltoModels
import Foundation
import Glibc

/// What the previous scan of the same roots found of every file (size, modification and access times, mode and
/// owner), so a scan in `changed` hash mode hashes only what changed and a full scan can list only the files that
/// changed and the keys of those it no longer finds. Paths are kept as their `PathKey`s, 40 bytes a file, sorted
/// for binary search. A key collision can cost a hash (the inventory drops a stored hash whose size or mtime
/// moved) or leave a file unlisted until the next complete listing, never record a wrong one.
struct ScanIndex: Sendable {
    struct Entry: Sendable, Equatable {
        var key: UInt64
        var size: Int64
        var modified: Int64
        var accessed: Int64
        /// The mode and owner id, which a row's permissions and owner come from.
        var attributes: UInt64

        init(encodedPath: some Sequence<UInt8>, size: Int64, modified: Int64, accessed: Int64, mode: UInt32, owner: UInt32) {
            self.key = PathKey.of(encodedPath)
            self.size = size
            self.modified = modified
            self.accessed = accessed
            self.attributes = UInt64(mode) << 32 | UInt64(owner)
        }
    }

    /// "ALTOIX02": an index of an older layout is not read (the next scan hashes nothing and lists every file).
    private static let magic: UInt64 = 0x3230_5849_4F54_4C41
    private static let headerBytes = 16

    private let entries: [Entry]
    /// Listings of changes since the last complete listing, this index's scan included.
    let listingsOfChanges: Int

    /// The index file for a host's set of roots, in the agent's state folder: a host enrolled again starts afresh.
    static func file(stateFolder: String, host: UUID, roots: [String]) -> String {
        let key = PathKey.of(Array(([host.uuidString.lowercased()] + roots.sorted()).joined(separator: "\n").utf8))
        return stateFolder + "/scan-index/" + String(key, radix: 16) + ".bin"
    }

    /// Where a scan's index waits until every batch of the scan is uploaded: the next scan lists changes against
    /// what the inventory was sent, not against what a scan still in the spool found.
    static func pendingFile(of file: String, scanID: UUID) -> String {
        file + ".pending-" + scanID.uuidString.lowercased()
    }

    /// Whether an earlier scan's index still waits for its upload.
    static func hasPending(_ file: String) -> Bool {
        let name = (file as NSString).lastPathComponent + ".pending-"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: (file as NSString).deletingLastPathComponent)) ?? []
        return names.contains { $0.hasPrefix(name) }
    }

    /// Left by the uploader once the API said it takes listings of changes; without it every scan lists every file.
    static func changesMarker(stateFolder: String) -> String {
        stateFolder + "/scan-index/listings-of-changes"
    }

    /// The stored index, or nil when there is none or it cannot be read (then every file counts as changed).
    static func load(_ file: String) -> ScanIndex? {
        guard let data = FileManager.default.contents(atPath: file), data.count >= headerBytes,
              (data.count - headerBytes) % MemoryLayout<Entry>.stride == 0 else { return nil }
        return data.withUnsafeBytes { bytes -> ScanIndex? in
            guard bytes.loadUnaligned(as: UInt64.self) == magic else { return nil }
            let listings = Int(truncatingIfNeeded: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            let count = (bytes.count - headerBytes) / MemoryLayout<Entry>.stride
            let entries = [Entry](unsafeUninitializedCapacity: count) { buffer, initialized in
                if count > 0 {
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[headerBytes...]))
                }
                initialized = count
            }
            return ScanIndex(entries: entries, listingsOfChanges: max(0, listings))
        }
    }

    enum Change {
        case unchanged, changed
        /// Not in the previous scan: a new file has no earlier size or time to differ from.
        case new
    }

    /// Whether the file's content may have changed: its size or modification time differ.
    func change(of file: Entry) -> Change {
        var found = false
        for index in range(of: file.key) {
            if entries[index].size == file.size && entries[index].modified == file.modified { return .unchanged }
            found = true
        }
        return found ? .changed : .new
    }

    /// Whether the previous scan found the file exactly so: its row would say nothing new.
    func holds(_ file: Entry) -> Bool {
        range(of: file.key).contains { entries[$0] == file }
    }

    private func range(of key: UInt64) -> Range<Int> {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].key < key { low = middle + 1 } else { high = middle }
        }
        var end = low
        while end < entries.count, entries[end].key == key { end += 1 }
        return low..<end
    }

    /// Collects a running scan's entries from its workers and stores them as the next scan's index.
    final class Recorder: @unchecked Sendable {
        // Guarded by `lock`.
        private let lock = NSLock()
        private var entries: [Entry] = []
        private var sorted = false

        func add(_ batch: [Entry]) {
            lock.lock()
            entries.append(contentsOf: batch)
            sorted = false
            lock.unlock()
        }

        /// The keys of the previous scan's files that this one did not find.
        func keysGone(since previous: ScanIndex) -> [UInt64] {
            lock.lock()
            defer { lock.unlock() }
            sortEntries()
            var gone: [UInt64] = []
            var current = 0
            var last: UInt64?
            for entry in previous.entries where entry.key != last {
                last = entry.key
                while current < entries.count, entries[current].key < entry.key { current += 1 }
                if current == entries.count || entries[current].key != entry.key { gone.append(entry.key) }
            }
            return gone
        }

        /// Writes the index next to its final place and renames it there, so a crash leaves the old one.
        func save(to file: String, listingsOfChanges: Int) throws {
            lock.lock()
            defer { lock.unlock() }
            sortEntries()
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            var data = Data(capacity: ScanIndex.headerBytes + entries.count * MemoryLayout<Entry>.stride)
            withUnsafeBytes(of: ScanIndex.magic) { data.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt64(listingsOfChanges)) { data.append(contentsOf: $0) }
            entries.withUnsafeBytes { data.append(contentsOf: $0) }
            try data.write(to: URL(fileURLWithPath: file), options: .atomic)
        }

        private func sortEntries() {
            guard !sorted else { return }
            entries.sort { $0.key < $1.key }
            sorted = true
        }
    }
}
