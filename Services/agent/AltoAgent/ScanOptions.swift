import Glibc
import AltoModels

/// What one scan walks and how it writes its batches.
public struct ScanOptions: Sendable {
    public enum HashMode: String, Sendable, CaseIterable {
        /// Leave the hash column empty; the inventory keeps the hash it had while size and mtime are unchanged.
        case none
        /// Hash a file whose size or modification time differs from the previous scan of the same roots; the first
        /// scan and new files are not hashed, so turning this on never costs a full read of the server.
        case changed
        /// Hash every file: slow on a real file server, for an audit.
        case all
    }

    public var roots: [String]
    public var exclusions = ScanExclusions(patterns: [])
    /// Stay on each root's file system: a mount point below a root is skipped, and counted.
    public var oneFileSystem = true
    public var hashMode = HashMode.none
    public var compression = IngestJob.Compression.zstd
    /// A batch is cut once this many bytes of CSV (before compression) are in it: about 60,000 files at 8 MiB,
    /// small enough that the ingest of one batch overlaps the staging of the next.
    public var batchBytes = 8 << 20
    /// Marks the scan as complete, so files it no longer saw are retired from the inventory.
    public var isFullScan = true
    /// A full scan with the previous scan's index lists only what changed since, except every this many scans,
    /// which list every file again and so mend whatever the inventory lost (1: every scan lists every file).
    public var completeListingEvery = 7
    /// Walker threads; every core by default, since a warm walk is bound by system calls, not by the disk.
    public var threads = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    public init(roots: [String]) {
        self.roots = roots
    }
}
