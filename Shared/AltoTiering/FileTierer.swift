import AltoModels
import CAltoLinux
import Crypto
import Foundation
import Glibc

/// Tiers one file at a time to one store, the way DESIGN.md's "Never lose a file" asks: check the file is what the
/// scan saw and nobody is writing it, stream it once while hashing (and compressing), have the store make the copy
/// durable and vouch for it, compare hashes, and only then, holding a write lease so no program has the file open,
/// turn it into a stub. Any doubt deletes the copy and leaves the original untouched.
public struct FileTierer: Sendable {
    public struct Options: Sendable {
        /// Store a zstd stream of the content instead of the content.
        public var compress = false
        /// Leading bytes kept on disk in the stub (rounded up to whole blocks).
        public var previewBytes: Int64 = 0
        /// Tries of a transfer that fails with a transient error, the first included.
        public var attempts = 3
        /// Pause before the second try; doubled before each further one.
        public var firstRetryDelay: Duration = .milliseconds(500)
        /// The data key that encrypts the copies, with what the stub records of it; nil stores them in the clear.
        public var sealing: Sealing?

        public init() {}
    }

    /// A data key to encrypt copies with, and how the stubs describe it.
    public struct Sealing: Sendable {
        public var key: SymmetricKey
        public var encryption: StubRecord.Encryption

        public init(key: SymmetricKey, encryption: StubRecord.Encryption) {
            self.key = key
            self.encryption = encryption
        }
    }

    public let store: any TierStore
    public let target: StorageTargetReference
    public let customerID: UUID
    public let hostID: UUID
    public let options: Options
    public let limiter: BandwidthLimiter?
    public let driver: any StubDriver
    /// Who had what open for writing when the job started.
    public let writers: OpenWriters
    /// The managed roots every path of a job must be below.
    public let paths: ConfinedPaths

    public init(store: any TierStore, target: StorageTargetReference, customerID: UUID, hostID: UUID, paths: ConfinedPaths,
                options: Options = Options(), limiter: BandwidthLimiter? = nil, driver: any StubDriver = LinuxStubDriver(),
                writers: OpenWriters = .snapshot()) {
        _ = Self.leaseBreaksAreHarmless
        self.store = store
        self.target = target
        self.customerID = customerID
        self.hostID = hostID
        self.options = options
        self.limiter = limiter
        self.driver = driver
        self.writers = writers
        self.paths = paths
    }

    /// A lease break signals its holder with SIGIO, whose default action ends the process; the agent only needs
    /// the lease to keep others out for the instant it makes the stub, so the signal is ignored.
    private static let leaseBreaksAreHarmless: Void = { _ = signal(SIGIO, SIG_IGN) }()

    /// Tiers the file and describes the outcome as the agent reports it: skipped (changed, in use: tried again
    /// after the next scan), deferred (the tier is unavailable: the job goes back), failed, or tiered.
    public func tier(_ file: TieringJob.File, now: Date = Date()) async -> AgentResult.File {
        do {
            return try await tierOrThrow(file, now: now)
        } catch {
            let outcome: AgentResult.Outcome = switch error.code {
            case .changedSinceScan, .inUse: .skipped
            case .storageUnavailable: .deferred
            default: .failed
            }
            var failed = AgentResult.File(fileID: file.fileID, filePath: file.filePath, outcome: outcome, reason: error.message,
                                          size: file.fileSize)
            failed.reasonCode = error.code.reasonCode
            return failed
        }
    }

    private func tierOrThrow(_ file: TieringJob.File, now: Date) async throws(TieringError) -> AgentResult.File {
        var original: PosixFile? = PosixFile(adopting: try paths.open(file.filePath, flags: O_RDONLY | alto_o_noatime), path: file.filePath)
        if let record = try driver.record(descriptor: original!.descriptor, path: file.filePath) {
            var tiered = try alreadyTiered(file, record: record)
            tiered.stubHandle = StubHandle.of(descriptor: original!.descriptor)?.text
            return tiered
        }
        let before = try original!.status()
        guard (before.st_mode & S_IFMT) == S_IFREG else { throw TieringError(.changedSinceScan, "no longer a regular file") }
        // The guard watches the managed roots' mounts; another name of the file could be reached through a mount it
        // does not watch, and read the stub's hole there.
        guard before.st_nlink <= 1 else {
            throw TieringError(.rejected, "has \(before.st_nlink) hard links; a file with other names is not tiered")
        }
        try Self.checkUnchanged(before, file)
        let resident = StubFile.residentBytes(preview: options.previewBytes, blockSize: Int64(before.st_blksize))
        guard Int64(before.st_size) > resident else {
            throw TieringError(.changedSinceScan, "no larger than the \(resident)-byte preview kept on disk")
        }
        try checkNotInUse(original!, before)

        let object = TierObject(customerID: customerID, hostID: hostID, fileID: file.fileID, originalPath: file.filePath,
                                tieredAt: now, compressed: options.compress)
        let (copy, sent) = try await storeWithRetries(TierSource(file: original!, compressed: options.compress, sealingKey: options.sealing?.key,
                                                                 limiter: limiter),
                                                      as: object)
        do throws(TieringError) {
            guard copy.verifiedHash == sent.payloadHash, copy.storedBytes == sent.payloadBytes else {
                throw TieringError(.hashMismatch, "the tier-2 copy reads back as \(copy.storedBytes) bytes hashing to "
                                   + "\(copy.verifiedHash), \(sent.payloadBytes) bytes hashing to \(sent.payloadHash) were sent; "
                                   + "the original is kept")
            }
            if let expected = file.hash, expected != sent.contentHash {
                throw TieringError(.changedSinceScan, "the content changed since the scan hashed it")
            }
            let copied = try original!.status()
            guard Self.sameVersion(before, copied) else { throw TieringError(.changedSinceScan, "modified while it was being copied") }
            original = nil
            try await store.storeDescription(describe(file, copied, copy: copy, sent: sent, tieredAt: now).encoded(), of: copy.location)

            let writable = PosixFile(adopting: try paths.open(file.filePath, flags: O_RDWR), path: file.filePath)
            try Self.takeWriteLease(writable)
            defer { _ = alto_set_lease(writable.descriptor, alto_lease_none()) }
            let current = try writable.status()
            guard Self.sameVersion(copied, current) else { throw TieringError(.changedSinceScan, "modified before it could become a stub") }
            let record = StubRecord(location: copy.location, hash: sent.contentHash, size: Int64(current.st_size),
                                    targetID: target.id, tieredAt: now, compression: options.compress ? "zstd" : nil,
                                    residentBytes: resident, encryption: options.sealing?.encryption)
            try driver.makeStub(descriptor: writable.descriptor, path: file.filePath, record: record,
                                times: (current.st_atim, current.st_mtim))
            let allocatedAfter = (try? writable.status()).map { Int64($0.st_blocks) * 512 }
            var tiered = AgentResult.File(fileID: file.fileID, filePath: file.filePath, outcome: .tiered, hash: sent.contentHash,
                                          size: record.size, tieredLocation: copy.location,
                                          allocatedBefore: Int64(current.st_blocks) * 512, allocatedAfter: allocatedAfter)
            tiered.wrappedKey = record.encryption?.wrappedKey
            tiered.storedBytes = copy.storedBytes
            tiered.stubHandle = StubHandle.of(descriptor: writable.descriptor)?.text
            return tiered
        } catch {
            await store.remove(copy.location)
            throw error
        }
    }

    /// What the copy says about itself, so tier-2 and the tenant's key alone can give the file back; authenticated
    /// under the job's data key when the copy is sealed.
    private func describe(_ file: TieringJob.File, _ info: stat, copy: StoredCopy, sent: Sent, tieredAt: Date) -> CopyDescription {
        CopyDescription(customerID: customerID, hostID: hostID, targetID: target.id, fileID: file.fileID, originalPath: file.filePath,
                        status: info, hash: sent.contentHash, copy: copy, compression: options.compress ? "zstd" : nil,
                        encryption: options.sealing?.encryption, tieredAt: tieredAt, sealingKey: options.sealing?.key)
    }

    /// A redelivered job finds the stub its first delivery made (the agent stopped before reporting it): report it
    /// again, so the registry learns of it, rather than skip a file that is safely tiered.
    private func alreadyTiered(_ file: TieringJob.File, record: StubRecord) throws(TieringError) -> AgentResult.File {
        guard record.size == file.fileSize, record.targetID == target.id else {
            throw TieringError(.changedSinceScan, "already a stub of another copy")
        }
        var tiered = AgentResult.File(fileID: file.fileID, filePath: file.filePath, outcome: .tiered, hash: record.hash,
                                      size: record.size, tieredLocation: record.location)
        tiered.wrappedKey = record.encryption?.wrappedKey
        return tiered
    }

    /// What the source read and sent, kept once the source (and its descriptor) is gone.
    private struct Sent {
        var contentHash: String
        var payloadHash: String
        var payloadBytes: Int64
    }

    /// Stores the source's bytes, retrying transient failures with exponential backoff; the source is consumed, so
    /// its descriptor is closed when this returns (a write lease needs every descriptor but its own closed).
    private func storeWithRetries(_ source: consuming TierSource, as object: TierObject) async throws(TieringError) -> (StoredCopy, Sent) {
        var delay = options.firstRetryDelay
        var attempt = 1
        while true {
            do {
                let copy = try await store.store(source, as: object)
                return (copy, Sent(contentHash: source.contentHash, payloadHash: source.payloadHash, payloadBytes: source.payloadBytes))
            } catch where error.code == .transient {
                guard attempt < options.attempts else {
                    throw TieringError(.storageUnavailable, "the tier failed \(attempt) times: \(error.message)")
                }
                try? await Task.sleep(for: delay)
                delay *= 2
                attempt += 1
                source.rewind()
            }
        }
    }

    static func checkUnchanged(_ info: stat, _ file: TieringJob.File) throws(TieringError) {
        guard Int64(info.st_size) == file.fileSize else {
            throw TieringError(.changedSinceScan, "size is \(info.st_size), the scan saw \(file.fileSize)")
        }
        let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
        guard abs(modified - file.lastModified.timeIntervalSince1970) < 0.000_002 else {
            throw TieringError(.changedSinceScan, "modified since the scan")
        }
    }

    /// Same inode, size, modification and change time: nobody wrote the file in between.
    static func sameVersion(_ a: stat, _ b: stat) -> Bool {
        a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size
            && a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec
            && a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec
    }

    /// Another process with the file open for writing, or a lock (databases and other programs lock what they
    /// use), means: leave it for the next scan.
    func checkNotInUse(_ file: PosixFile, _ info: stat) throws(TieringError) {
        if writers.includes(info) {
            throw TieringError(.inUse, "open for writing by another program; tried again after the next scan")
        }
        if alto_has_foreign_lock(file.descriptor) != 0 {
            throw TieringError(.inUse, "locked by another program; tried again after the next scan")
        }
    }

    /// A write lease is granted only when no other descriptor has the file open, and makes any program that opens
    /// it meanwhile wait until the stub is made. File systems without leases (some network ones) go on without; an
    /// agent that may not lease another user's file (no CAP_LEASE) does not, since that would tier a file a program
    /// may be writing.
    static func takeWriteLease(_ file: PosixFile) throws(TieringError) {
        for attempt in 0..<5 {
            if alto_set_lease(file.descriptor, alto_lease_write()) == 0 { return }
            if errno == EACCES || errno == EPERM {
                throw TieringError(.io, "cannot take a write lease on it (the agent needs CAP_LEASE); it stays as it is")
            }
            guard errno == EAGAIN || errno == EBUSY else { return }
            // As above: the guard's descriptor of the agent's own open goes a moment after the open was let through.
            if attempt < 4 { usleep(10_000) }
        }
        throw TieringError(.inUse, "opened by another program while it was being copied; tried again after the next scan")
    }
}
