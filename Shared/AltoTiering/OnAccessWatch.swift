import CAltoLinux
import Synchronization

/// The fanotify group of the stub guard this process is connected to, if any. Making a stub punches its hole,
/// which is itself a watched access; under the write lease that keeps other programs out, the kernel would have to
/// open the file for the guard and so break the lease, and the punch would wait out the lease-break time. So the
/// file is left out of the watch for the instant of the punch and watched again right after.
public enum OnAccessWatch {
    private static let group = Atomic<Int32>(-1)

    /// Called by the agent when the guard hands it the group (and with -1 when the connection ends).
    public static func use(group descriptor: Int32) {
        let previous = group.exchange(descriptor, ordering: .acquiringAndReleasing)
        if previous >= 0 && previous != descriptor { _ = close(previous) }
    }

    /// True while this process holds the guard's group, so its stubs can be made without waiting on the guard.
    public static var isActive: Bool { group.load(ordering: .acquiring) >= 0 }

    static func unwatched<Value>(_ file: PosixFile, _ body: () throws(TieringError) -> Value) throws(TieringError) -> Value {
        let descriptor = group.load(ordering: .acquiring)
        guard descriptor >= 0 else { return try body() }
        guard alto_fanotify_ignore_until_removed(descriptor, file.descriptor) == 0 else {
            throw TieringError.io("leave out of the on-access watch", file.path)
        }
        defer { _ = alto_fanotify_unignore(descriptor, file.descriptor) }
        return try body()
    }
}

#if canImport(Glibc)
import Glibc
#endif
