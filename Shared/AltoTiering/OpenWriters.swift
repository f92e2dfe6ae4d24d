import Foundation
import Glibc

/// The files other processes have open for writing, read from `/proc` once per job. A lease probe would tell the
/// same per file, but a lease held even for an instant makes the on-access guard's own open of that file wait for
/// the lease to break, stalling every reader on the mount; this holds nothing. Files opened for writing after the
/// snapshot are caught later: their times change before the stub is made, or the write lease taken for the instant
/// of the stub is refused.
public struct OpenWriters: Sendable {
    private struct FileKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private let open: Set<FileKey>

    /// Reads every process's descriptors but this one's.
    public static func snapshot() -> OpenWriters {
        var open: Set<FileKey> = []
        let me = getpid()
        for process in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(process), pid != me,
                  let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { continue }
            for descriptor in descriptors {
                guard let details = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(descriptor)", encoding: .utf8),
                      let line = details.split(separator: "\n").first(where: { $0.hasPrefix("flags:") }),
                      let flags = Int32(line.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8),
                      flags & O_ACCMODE != O_RDONLY
                else { continue }
                var info = stat()
                guard stat("/proc/\(pid)/fd/\(descriptor)", &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
                open.insert(FileKey(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)))
            }
        }
        return OpenWriters(open: open)
    }

    func includes(_ info: stat) -> Bool {
        open.contains(FileKey(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)))
    }
}
