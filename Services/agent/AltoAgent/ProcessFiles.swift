import Foundation
import Glibc

/// What `/proc` tells about the process behind a fanotify event: its name, to recognise scanning programs, and
/// whether it has the file open for writing, since a write inside a stub's preview must recall the file first.
struct ProcessFiles {
    let pid: Int32

    /// The process's command name (`/proc/<pid>/comm`), as `ps` shows it.
    var name: String {
        ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// True when one of the process's descriptors refers to the same file as `descriptor` and was opened for
    /// writing; also true when `/proc` cannot tell, since doubt must lead to a recall.
    func writes(sameFileAs descriptor: Int32) -> Bool {
        var target = stat()
        guard fstat(descriptor, &target) == 0,
              let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
        else { return true }
        for entry in entries {
            var info = stat()
            guard stat("/proc/\(pid)/fd/\(entry)", &info) == 0, info.st_dev == target.st_dev, info.st_ino == target.st_ino else { continue }
            guard let details = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(entry)", encoding: .utf8),
                  let flagsLine = details.split(separator: "\n").first(where: { $0.hasPrefix("flags:") }),
                  let flags = Int32(flagsLine.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8)
            else { return true }
            if flags & O_ACCMODE != O_RDONLY { return true }
        }
        return false
    }
}
