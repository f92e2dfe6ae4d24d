/// Why a file was not tiered or recalled; the message is what an admin reads in the job report.
public struct TieringError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case changedSinceScan
        case io
        case hashMismatch
        case notAStub
        case storageUnavailable
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func io(_ operation: String, _ path: String, errno code: Int32 = errno) -> TieringError {
        TieringError(.io, "\(operation) \(path): \(String(cString: strerror(code)))")
    }
}

#if canImport(Glibc)
import Glibc
#endif
