import AltoModels
import CAltoLinux
import Foundation
import Glibc

/// Tiers files to a folder on the agent's host (local disk or a share the OS mounted) and recalls them.
///
/// A file's data is released only after its copy is written, fsynced with its directory, read back, and hashed to
/// the same SHA-256 as the original read; any doubt leaves the original untouched (DESIGN.md, "Never lose a file").
public struct FilesystemTier: Sendable {
    /// The folder that holds every tenant's tier-2 tree.
    public let root: String
    public init(root: String) {
        self.root = root
    }

    /// Where a file's copy goes: `<root>/<customer>/<yyyy>/<mm>/<dd>/<host>/<file id>-<name>`, naming tenant and date.
    public func location(customerID: UUID, hostID: UUID, fileID: Int64, path: String, at date: Date) -> String {
        let day = RFC3339.format(date).prefix(10).split(separator: "-").joined(separator: "/")
        let name = path.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? "file"
        return "\(root)/\(customerID.uuidString.lowercased())/\(day)/\(hostID.uuidString.lowercased())/\(fileID)-\(name)"
    }

    /// Copies, verifies and stubs one file; a file that changed since the scan, is already a stub, or fails
    /// verification is reported as skipped or failed with the original intact.
    public func tier(_ file: TieringJob.File, customerID: UUID, hostID: UUID, targetID: UUID?, now: Date = Date()) -> AgentResult.File {
        do {
            return try tierOrThrow(file, customerID: customerID, hostID: hostID, targetID: targetID, now: now)
        } catch {
            let outcome: AgentResult.Outcome = error.code == .changedSinceScan ? .skipped : .failed
            return AgentResult.File(fileID: file.fileID, filePath: file.filePath, outcome: outcome,
                                    reason: error.message, size: file.fileSize)
        }
    }

    private func tierOrThrow(_ file: TieringJob.File, customerID: UUID, hostID: UUID, targetID: UUID?, now: Date) throws(TieringError) -> AgentResult.File {
        if try StubFile.record(at: file.filePath) != nil {
            throw TieringError(.changedSinceScan, "already a stub")
        }
        let original = try PosixFile(path: file.filePath, flags: O_RDWR)
        let before = try original.status()
        try Self.checkUnchanged(before, file)
        let destination = location(customerID: customerID, hostID: hostID, fileID: file.fileID, path: file.filePath, at: now)
        let hash = try copy(original, size: Int64(before.st_size), to: destination)
        do throws(TieringError) {
            let copied = try PosixFile(path: destination, flags: O_RDONLY).sha256()
            guard copied == hash else {
                throw TieringError(.hashMismatch, "the tier-2 copy reads back as \(copied), the original as \(hash)")
            }
            if let expected = file.hash, expected != hash {
                throw TieringError(.changedSinceScan, "content changed since the scan hashed it")
            }
            let after = try original.status()
            try Self.checkUnchanged(after, file)
            let allocatedBefore = Int64(after.st_blocks) * 512
            let record = StubRecord(location: destination, hash: hash, size: Int64(after.st_size), targetID: targetID, tieredAt: now)
            try StubFile.release(original, record: record, times: (after.st_atim, after.st_mtim))
            let allocatedAfter = Int64(try original.status().st_blocks) * 512
            return AgentResult.File(fileID: file.fileID, filePath: file.filePath, outcome: .tiered, hash: hash,
                                    size: Int64(after.st_size), tieredLocation: destination,
                                    allocatedBefore: allocatedBefore, allocatedAfter: allocatedAfter)
        } catch {
            unlink(destination)
            throw error
        }
    }

    /// Writes the copy under a temporary name, fsyncs it, renames it into place and fsyncs the folder; returns
    /// the hash of the bytes read from the original.
    private func copy(_ original: PosixFile, size: Int64, to destination: String) throws(TieringError) -> String {
        let folder = (destination as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw TieringError(.storageUnavailable, "cannot create \(folder): \(error.localizedDescription)")
        }
        let partial = destination + ".partial"
        unlink(partial)
        do throws(TieringError) {
            let copy = try PosixFile(path: partial, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            let (copied, hash) = try original.copyContents(to: copy)
            guard copied == size else { throw TieringError(.changedSinceScan, "size changed while copying") }
            try copy.sync()
            guard rename(partial, destination) == 0 else { throw TieringError.io("rename into", destination) }
            try PosixFile(path: folder, flags: O_RDONLY | O_DIRECTORY).sync()
            return hash
        } catch {
            unlink(partial)
            throw error
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
}
