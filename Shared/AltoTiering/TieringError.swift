import Glibc

/// Why a file was not tiered or recalled; the message is what an admin reads in the job report.
public struct TieringError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable, CaseIterable {
        /// The file is not what the scan saw (size, time, content): skipped, tiered after the next scan.
        case changedSinceScan
        /// Another program has the file open for writing or locked: skipped, tried again on the next scan.
        case inUse
        /// A local or remote operation failed; the original is kept.
        case io
        /// The copy does not hash to what was read; the copy is discarded and the original kept.
        case hashMismatch
        case notAStub
        /// The copy (or its description) is not where its location says: gone from the second tier.
        case notFound
        /// A stub record no one but a user could have written, one that makes no sense, or one whose copy lies
        /// outside its target: never followed, and reported as a security event.
        case untrustedRecord
        /// A job named a path outside the managed roots, or one reached through a symbolic link or another mount.
        case outsideManagedRoots
        /// The second tier cannot be reached at all: the job is put back and tried again later.
        case storageUnavailable
        /// A network hiccup worth retrying (timeouts, resets, 5xx answers).
        case transient
        /// The target is misconfigured (credentials, bucket, share): retrying will not help.
        case rejected

        /// The code as the word results carry in `reason_code`.
        public var reasonCode: String {
            switch self {
            case .changedSinceScan: "changed_since_scan"
            case .inUse: "in_use"
            case .io: "io"
            case .hashMismatch: "hash_mismatch"
            case .notAStub: "not_a_stub"
            case .notFound: "not_found"
            case .untrustedRecord: "untrusted_record"
            case .outsideManagedRoots: "outside_managed_roots"
            case .storageUnavailable: "storage_unavailable"
            case .transient: "transient"
            case .rejected: "rejected"
            }
        }
    }

    public let code: Code
    public let message: String
    /// The errno behind an `.io` error, which tells a full or vanished tier from a bad file.
    public let systemError: Int32?

    public init(_ code: Code, _ message: String, systemError: Int32? = nil) {
        self.code = code
        self.message = message
        self.systemError = systemError
    }

    public var description: String { message }

    public static func io(_ operation: String, _ path: String, errno code: Int32 = errno) -> TieringError {
        TieringError(code == ENOENT ? .notFound : .io, "\(operation) \(path): \(String(cString: strerror(code)))", systemError: code)
    }
}
