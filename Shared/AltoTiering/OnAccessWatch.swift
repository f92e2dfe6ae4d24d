import CAltoLinux
import Synchronization

/// The fanotify group of the stub guard this process is connected to, if any. Making a stub punches its hole,
/// which is itself a watched access; under the write lease that keeps other programs out, the kernel would have to
/// open the file for the guard and so break the lease, and the punch would wait out the lease-break time. So the
/// file is left out of the watch for the instant of the punch and watched again right after.
///
/// The agent also keeps the group while the guard restarts, so the marks (and the reads waiting on them) outlive a
/// guard that was killed; `guardedRoots` are the roots the guard said it marks, the only ones where stubs are made.
public enum OnAccessWatch {
    private static let group = Atomic<Int32>(-1)
    private static let roots = Mutex<[String]>([])
    private static let connected = Atomic<Bool>(false)

    /// Called by the agent when a guard hands it the group and the roots it marks.
    public static func use(group descriptor: Int32, roots marked: [String]) {
        roots.withLock { $0 = marked }
        let previous = group.exchange(descriptor, ordering: .acquiringAndReleasing)
        if previous >= 0 && previous != descriptor { _ = close(previous) }
        connected.store(true, ordering: .releasing)
    }

    /// The guard's connection ended: no stub is made until one answers again; the group is kept for it.
    public static func disconnected() {
        connected.store(false, ordering: .releasing)
    }

    /// Gives up the group: to hand it to a new guard (the caller closes it), or because none came back.
    public static func release() -> Int32 {
        connected.store(false, ordering: .releasing)
        roots.withLock { $0 = [] }
        return group.exchange(-1, ordering: .acquiringAndReleasing)
    }

    /// True while a guard is connected and this process holds its group, so stubs can be made without waiting on it.
    public static var isActive: Bool { connected.load(ordering: .acquiring) && group.load(ordering: .acquiring) >= 0 }

    /// True while this process holds a group, connected or not.
    public static var holdsGroup: Bool { group.load(ordering: .acquiring) >= 0 }

    /// The roots the connected guard marks; empty while none is connected.
    public static var guardedRoots: [String] { isActive ? roots.withLock { $0 } : [] }

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
