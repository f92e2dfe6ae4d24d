import Glibc
import AltoModels

/// What one scan walks and how it writes its batches.
struct ScanOptions: Sendable {
    enum HashMode: String, Sendable, CaseIterable {
        /// Leave the hash column empty; the inventory keeps the hash it had while size and mtime are unchanged.
        case none
        /// Hash a file whose size or modification time differs from the previous scan of the same roots; the first
        /// scan and new files are not hashed, so turning this on never costs a full read of the server.
        case changed
        /// Hash every file: slow on a real file server, for an audit.
        case all
    }

    var roots: [String]
    var exclusions = ScanExclusions(patterns: [])
    /// Stay on each root's file system: a mount point below a root is skipped, and counted.
    var oneFileSystem = true
    var hashMode = HashMode.none
    var compression = IngestJob.Compression.zstd
    /// A batch is cut once this many bytes of CSV (before compression) are in it: about 60,000 files at 8 MiB,
    /// small enough that the ingest of one batch overlaps the staging of the next.
    var batchBytes = 8 << 20
    /// Walker threads; every core by default, since a warm walk is bound by system calls, not by the disk.
    /// Marks the scan as complete, so files it no longer saw are retired from the inventory.
    var isFullScan = true
    var threads = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}
