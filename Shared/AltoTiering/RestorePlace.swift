import AltoModels
import CAltoLinux
import Foundation
import Glibc

/// Where one restored file goes below the restore's folder: its original path, made relative, with every folder
/// on the way opened (and made) from the one before without following a symbolic link, so no name in a description
/// and nothing already in the folder can send a file elsewhere.
final class RestorePlace {
    private let parent: Int32
    private let name: [CChar]
    private let shown: String

    init(destination: String, originalPath: [UInt8]) throws(TieringError) {
        shown = String(decoding: originalPath, as: UTF8.self)
        let components = originalPath.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).map(Array.init)
        guard let last = components.last else { throw TieringError(.untrustedRecord, "its original path \(shown) names no file") }
        guard !components.contains(where: { $0 == [0x2E] || $0 == [0x2E, 0x2E] || $0.contains(0) }) else {
            throw TieringError(.untrustedRecord, "its original path \(shown) has . or .. or a NUL byte in it")
        }
        var folder = open(destination, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard folder >= 0 else { throw TieringError.io("open", destination) }
        for component in components.dropLast() {
            let name = Self.cString(component)
            if mkdirat(folder, name, 0o755) != 0 && errno != EEXIST {
                let failure = TieringError.io("create a folder of", shown)
                close(folder)
                throw failure
            }
            let next = openat(folder, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            close(folder)
            guard next >= 0 else { throw TieringError(.untrustedRecord, "a folder on the way to \(shown) is a symbolic link or no folder") }
            folder = next
        }
        parent = folder
        name = Self.cString(last)
    }

    deinit { close(parent) }

    /// What is at the place now: nil when nothing; `.some(nil)` for something no restore wrote (or no regular
    /// file); otherwise when the copy it was restored from was made.
    private func restoredFrom() -> String?? {
        let descriptor = openat(parent, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return errno == ENOENT ? nil : .some(nil) }
        let file = PosixFile(adopting: descriptor, path: shown)
        guard let info = try? file.status(), (info.st_mode & S_IFMT) == S_IFREG,
              let value = try? file.attribute(TreeRestore.restoredAttribute) else { return .some(nil) }
        return .some(String(decoding: value, as: UTF8.self))
    }

    /// A new file to write the content into, beside the place.
    func temporary() throws(TieringError) -> PosixFile {
        let temporaryName = ".alto-restore-\(UUID().uuidString.lowercased())"
        let descriptor = openat(parent, temporaryName, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw TieringError.io("create a file beside", shown) }
        return PosixFile(adopting: descriptor, path: temporaryName)
    }

    /// Why a copy made at `tieredAt` does not go here, or nil when it does: a newer or the same copy was restored
    /// here already, or something no restore wrote is here.
    func reasonToSkip(restoring tieredAt: String) -> String? {
        guard let existing = restoredFrom() else { return nil }
        guard let earlier = existing else { return "a file that no restore wrote is there; it is left as it is" }
        return earlier < tieredAt ? nil : "this copy or a newer one of the file was restored already"
    }

    /// Gives the written file its owner, permissions and times, makes it durable and renames it into place, unless
    /// meanwhile another copy of the same path took the place (`reasonToSkip`), which is then returned. Restores of
    /// one folder take turns at the rename, so of two copies of a path written at once the newer one stays.
    /// - Parameter owner: whether to give the file the description's owner and group (only an authenticated one).
    func finish(_ file: PosixFile, description: CopyDescription, mode: UInt32, owner: Bool, restoredFrom: String) throws(TieringError) -> String? {
        if owner, geteuid() == 0, fchown(file.descriptor, description.uid, description.gid) != 0 {
            throw TieringError.io("give its owner to", shown)
        }
        guard fchmod(file.descriptor, mode_t(mode)) == 0 else { throw TieringError.io("set the permissions of", shown) }
        try file.setAttribute(TreeRestore.restoredAttribute, restoredFrom)
        var times = [timespec(tv_sec: Int(description.accessed.seconds), tv_nsec: Int(description.accessed.nanoseconds)),
                     timespec(tv_sec: Int(description.modified.seconds), tv_nsec: Int(description.modified.nanoseconds))]
        guard futimens(file.descriptor, &times) == 0 else { throw TieringError.io("set the times of", shown) }
        try file.sync()
        guard flock(parent, LOCK_EX) == 0 else { throw TieringError.io("lock the folder of", shown) }
        defer { flock(parent, LOCK_UN) }
        if let reason = reasonToSkip(restoring: restoredFrom) { return reason }
        guard renameat(parent, file.path, parent, name) == 0 else { throw TieringError.io("rename into place", shown) }
        guard fsync(parent) == 0 else { throw TieringError.io("make the folder durable of", shown) }
        return nil
    }

    /// Removes a temporary file whose content did not check out.
    func discard(_ file: PosixFile) {
        unlinkat(parent, file.path, 0)
    }

    private static func cString(_ bytes: [UInt8]) -> [CChar] {
        bytes.map { CChar(bitPattern: $0) } + [0]
    }
}
