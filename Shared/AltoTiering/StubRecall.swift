import AltoModels
import CAltoLinux
import Foundation
import Glibc

/// Brings a stub's content back from its tier-2 copy, in place, and makes it an ordinary file again.
public enum StubRecall {
    /// Fills the stub from its copy while hashing; only when the hash matches the stub's record is the stub
    /// attribute removed. On a mismatch the blocks are released again, so the file stays a valid stub.
    @discardableResult
    public static func recall(_ path: String) throws(TieringError) -> StubRecord {
        guard let record = try StubFile.record(at: path) else {
            throw TieringError(.notAStub, "\(path) is not an Alto stub")
        }
        let copy: PosixFile
        do {
            copy = try PosixFile(path: record.location, flags: O_RDONLY)
        } catch {
            throw TieringError(.storageUnavailable, "tier-2 copy unavailable: \(error.message)")
        }
        let file = try PosixFile(path: path, flags: O_RDWR)
        let info = try file.status()
        let (copied, hash) = try copy.copyContents(to: file)
        guard hash == record.hash, copied == record.size else {
            _ = alto_punch_hole(file.descriptor, 0, off_t(record.size))
            throw TieringError(.hashMismatch, "the tier-2 copy hashes to \(hash), the stub expects \(record.hash); \(path) stays a stub")
        }
        try file.sync()
        guard alto_fremovexattr(file.descriptor, StubRecord.attributeName) == 0 else {
            throw TieringError.io("remove the stub attribute of", path)
        }
        var times = [info.st_atim, info.st_mtim]
        _ = futimens(file.descriptor, &times)
        return record
    }

    /// Recalls one file and describes the outcome as an agent reports it; a failure leaves the stub as it was.
    public static func recall(_ file: RecallJob.File) -> AgentResult.File {
        do {
            let record = try recall(file.filePath)
            return AgentResult.File(fileID: file.fileID, filePath: file.filePath, outcome: .recalled, hash: record.hash,
                                    size: record.size, tieredLocation: record.location)
        } catch {
            return AgentResult.File(fileID: file.fileID, filePath: file.filePath, outcome: .failed, reason: error.message, size: 0)
        }
    }
}
