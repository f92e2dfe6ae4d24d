import Foundation
import Glibc

/// An advisory lock that a running scan holds on `<spool>/<scan id>.lock` for as long as it writes its folder.
///
/// A daemon that starts while an `alto-agent scan` runs beside it must not mistake that scan's folder for the
/// leftovers of a crash. The lock is taken before the folder exists and the kernel drops it when the process
/// dies, so a folder without a manifest whose lock can be taken is one that nobody will ever finish.
final class ScanLock {
    private let path: String
    private var descriptor: Int32

    /// Takes the lock of `scanID`, waiting for nobody: a scan id is new, so the lock is free.
    init(spoolFolder: String, scanID: String) throws {
        try FileManager.default.createDirectory(atPath: spoolFolder, withIntermediateDirectories: true)
        path = Self.path(spoolFolder: spoolFolder, scanID: scanID)
        descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw AgentError("cannot create the scan lock \(path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw AgentError("cannot lock the scan lock \(path): \(reason)")
        }
    }

    deinit { release() }

    /// Removes the lock file and lets go of the lock; called once the scan's folder is finished or removed.
    func release() {
        guard descriptor >= 0 else { return }
        unlink(path)
        Glibc.close(descriptor)
        descriptor = -1
    }

    static func path(spoolFolder: String, scanID: String) -> String {
        spoolFolder + "/" + scanID + ".lock"
    }

    /// True when a live process holds the lock of `scanID`. A lock file left by a dead process is removed.
    static func isHeld(spoolFolder: String, scanID: String) -> Bool {
        let path = path(spoolFolder: spoolFolder, scanID: scanID)
        let descriptor = Glibc.open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { Glibc.close(descriptor) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { return true }
        unlink(path)
        return false
    }
}
