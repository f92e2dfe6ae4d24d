import AltoModels
import AltoTiering
import CAltoLinux
import Crypto
import Foundation
import Glibc
import Synchronization

/// Walks the roots with one thread per core and writes a CSV row for every regular file into a `BatchSpool`.
/// It never follows a symbolic link (directories are opened with `O_NOFOLLOW`, entries read with `lstat`
/// semantics), stays on each root's file system unless told otherwise, and counts what it cannot read instead of
/// stopping. Its memory does not grow with the tree: rows leave in chunks, and only the directories still to
/// read are held.
struct ParallelTreeScanner: Sendable {
    let options: ScanOptions
    let previous: ScanIndex?
    let progress: ScanProgress
    /// Writes rows only for the files `previous` does not hold as they are now (a listing of changes).
    var listsChanges = false

    private static let chunkBytes = 256 << 10

    /// Scans everything, blocking the calling thread until the walk is over; `recorder` collects every file's index
    /// entry (path key, size, times, mode and owner), which the next scan compares against.
    func scan(into spool: BatchSpool, recorder: ScanIndex.Recorder?) throws -> ScanSummary {
        var roots: [DirectoryQueue.Directory] = []
        var summary = ScanSummary()
        for root in options.roots {
            guard let resolved = realpath(root, nil) else {
                throw AgentError("cannot scan \(root): \(String(cString: strerror(errno)))")
            }
            defer { free(resolved) }
            var info = stat()
            guard stat(resolved, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                throw AgentError("cannot scan \(root): not a directory")
            }
            roots.append(.init(path: Array(UnsafeBufferPointer(start: UnsafeRawPointer(resolved).assumingMemoryBound(to: UInt8.self),
                                                               count: strlen(resolved))),
                               device: UInt64(info.st_dev)))
        }
        let queue = DirectoryQueue(roots)
        let results = WorkerResults()
        let finished = DispatchGroup()
        for _ in 0..<options.threads {
            finished.enter()
            Thread.detachNewThread { [self] in
                var worker = Worker(options: options, previous: previous, spool: spool, recorder: recorder, progress: progress,
                                    listsChanges: listsChanges)
                while !progress.isCancelled, let directory = queue.next() {
                    queue.finished(adding: worker.read(directory))
                }
                worker.flush()
                results.add(worker.summary)
                finished.leave()
            }
        }
        finished.wait()
        summary.add(results.total)
        return summary
    }

    /// The workers' counts, added up as each finishes.
    private final class WorkerResults: Sendable {
        private let summary = Mutex(ScanSummary())

        func add(_ counts: ScanSummary) {
            summary.withLock { $0.add(counts) }
        }

        var total: ScanSummary { summary.withLock { $0 } }
    }

    /// One walker thread's state: its own row buffer, owner-name cache and counts, so threads share nothing but
    /// the directory queue and the spool.
    struct Worker {
        let options: ScanOptions
        let previous: ScanIndex?
        let spool: BatchSpool
        let recorder: ScanIndex.Recorder?
        let progress: ScanProgress
        let listsChanges: Bool
        var summary = ScanSummary()
        private var rows = ScanRowWriter(capacity: ParallelTreeScanner.chunkBytes + (64 << 10))
        private var rowCount = 0
        /// Files left out of a listing of changes since the last flush, for the progress.
        private var unlistedCount = 0
        private var chunkBytes: Int64 = 0
        private var owners = OwnerNames()
        private var path: [UInt8] = []
        private var encodedPath: [UInt8] = []
        private var indexEntries: [ScanIndex.Entry] = []

        init(options: ScanOptions, previous: ScanIndex?, spool: BatchSpool, recorder: ScanIndex.Recorder?, progress: ScanProgress,
             listsChanges: Bool) {
            self.options = options
            self.previous = previous
            self.spool = spool
            self.recorder = recorder
            self.progress = progress
            self.listsChanges = listsChanges
        }

        /// Reads one directory, writes rows for its files and returns its subdirectories.
        mutating func read(_ directory: DirectoryQueue.Directory) -> [DirectoryQueue.Directory] {
            let descriptor = (directory.path + [0]).withUnsafeBufferPointer { cPath in
                open(UnsafeRawPointer(cPath.baseAddress!).assumingMemoryBound(to: CChar.self),
                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
            }
            guard descriptor >= 0 else {
                noteFailure(errno, path: directory.path)
                return []
            }
            var info = stat()
            if options.oneFileSystem, fstat(descriptor, &info) == 0, UInt64(info.st_dev) != directory.device {
                close(descriptor)
                summary.otherFileSystems += 1
                return []
            }
            guard let stream = fdopendir(descriptor) else {
                noteFailure(errno, path: directory.path)
                close(descriptor)
                return []
            }
            defer { closedir(stream) }
            summary.directories += 1
            var subdirectories: [DirectoryQueue.Directory] = []
            let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
            let prefixLength = directory.path.count == 1 ? 0 : directory.path.count
            path.removeAll(keepingCapacity: true)
            path.append(contentsOf: directory.path.prefix(prefixLength))
            path.append(0x2F)
            errno = 0
            while let entry = readdir(stream) {
                let cName = UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self)
                let nameLength = strlen(cName)
                let name = UnsafeBufferPointer(start: UnsafeRawPointer(cName).assumingMemoryBound(to: UInt8.self), count: nameLength)
                if name[0] == 0x2E && (nameLength == 1 || (nameLength == 2 && name[1] == 0x2E)) { continue }
                path.removeSubrange((prefixLength + 1)...)
                path.append(contentsOf: name)
                if !options.exclusions.isEmpty, options.exclusions.excludes(name: name, path: { [path] in PathEncoding.encode(path) }) {
                    summary.excluded += 1
                    continue
                }
                let type = Int32(entry.pointee.d_type)
                if type == DT_DIR {
                    subdirectories.append(.init(path: path, device: directory.device))
                } else if type == DT_REG || type == DT_UNKNOWN {
                    var info = stat()
                    guard fstatat(dirfd(stream), cName, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                        noteFailure(errno, path: path)
                        continue
                    }
                    switch info.st_mode & S_IFMT {
                    case S_IFDIR: subdirectories.append(.init(path: path, device: directory.device))
                    case S_IFREG: write(file: info, directory: dirfd(stream), name: cName)
                    default: break
                    }
                }
                errno = 0
            }
            if errno != 0 { noteFailure(errno, path: directory.path) }
            return subdirectories
        }

        private mutating func write(file info: stat, directory: Int32, name: UnsafePointer<CChar>) {
            summary.files += 1
            summary.bytes += Int64(info.st_size)
            encodedPath.removeAll(keepingCapacity: true)
            path.withUnsafeBufferPointer { PathEncoding.encode($0, into: &encodedPath) }
            let entry = ScanIndex.Entry(encodedPath: encodedPath, size: Int64(info.st_size),
                                        modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                                        accessed: Int64(info.st_atim.tv_sec) * 1_000_000_000 + Int64(info.st_atim.tv_nsec),
                                        mode: info.st_mode, owner: info.st_uid)
            if recorder != nil { indexEntries.append(entry) }
            if listsChanges, previous?.holds(entry) == true {
                unlistedCount += 1
                chunkBytes += Int64(info.st_size)
                if unlistedCount >= 4096 { flush() }
                return
            }
            var hash: String?
            let shouldHash: Bool
            switch options.hashMode {
            case .none: shouldHash = false
            case .all: shouldHash = true
            case .changed: shouldHash = previous?.change(of: entry) == .changed
            }
            if shouldHash {
                hash = Self.hash(directory: directory, name: name, path: path)
                if hash != nil { summary.hashed += 1 }
            }
            let owner = owners.name(of: info.st_uid)
            path.withUnsafeBufferPointer { pathBytes in
                rows.write(ScanRowWriter.File(
                    path: pathBytes, size: Int64(info.st_size),
                    modified: (Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec)),
                    accessed: (Int64(info.st_atim.tv_sec), Int64(info.st_atim.tv_nsec)),
                    mode: info.st_mode, owner: owner, hash: hash))
            }
            rowCount += 1
            chunkBytes += Int64(info.st_size)
            if rows.bytes.count >= ParallelTreeScanner.chunkBytes { flush() }
        }

        /// Hands the rows written so far to the spool.
        mutating func flush() {
            if !indexEntries.isEmpty {
                recorder?.add(indexEntries)
                indexEntries.removeAll(keepingCapacity: true)
            }
            progress.add(files: rowCount + unlistedCount, bytes: chunkBytes)
            unlistedCount = 0
            chunkBytes = 0
            guard rowCount > 0 else { return }
            spool.append(rows.take(), rowCount: rowCount)
            rowCount = 0
        }

        private mutating func noteFailure(_ code: Int32, path: [UInt8]) {
            if code == ENOENT {
                summary.vanished += 1
            } else {
                summary.unreadable += 1
                if summary.unreadableSamples.count < 20 {
                    summary.unreadableSamples.append("\(PathEncoding.encode(path)): \(String(cString: strerror(code)))")
                }
            }
        }

        /// A stub's content hash is its record's: reading it would recall it (or, in the agent, read its hole).
        static func hash(directory: Int32, name: UnsafePointer<CChar>, path: [UInt8]) -> String? {
            switch Result(catching: { () throws(TieringError) in try StubFile.record(in: directory, named: name, path: PathEncoding.encode(path)) }) {
            case .success(let record?): record.hash
            case .success(nil): sha256(directory: directory, name: name)
            case .failure: nil
            }
        }

        /// Hashes a file without touching its access time when the agent may (it owns the file or runs as root),
        /// since a scan must not make cold files look recently used.
        static func sha256(directory: Int32, name: UnsafePointer<CChar>) -> String? {
            let descriptor = alto_openat_read_noatime(directory, name)
            guard descriptor >= 0 else { return nil }
            defer { close(descriptor) }
            var hasher = SHA256()
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
                if count < 0 && errno == EINTR { continue }
                guard count >= 0 else { return nil }
                if count == 0 { break }
                hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            }
            return "sha256:" + hasher.finalize().map { String(format: "%02x", $0) }.joined()
        }
    }
}
