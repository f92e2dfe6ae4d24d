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
    private struct State {
        var group: Int32 = -1
        var roots: [String] = []
        var connected = false
    }

    private static let state = Mutex(State())
    private static let groupRequired = Atomic<Bool>(false)

    /// Makes every stub need the group (the agent, unless told to make stubs where no guard watches): without it,
    /// a stub would be watched by no one and read as zeros.
    public static func requireGroup() {
        groupRequired.store(true, ordering: .releasing)
    }

    /// Called by the agent when a guard hands it the group and the roots it marks.
    public static func use(group descriptor: Int32, roots marked: [String]) {
        let previous = state.withLock { state in
            let previous = state.group
            state = State(group: descriptor, roots: marked, connected: true)
            return previous
        }
        if previous >= 0 && previous != descriptor { _ = close(previous) }
    }

    /// The guard's connection ended: no stub is made until one answers again; the group is kept for it.
    public static func disconnected() {
        state.withLock { $0.connected = false }
    }

    /// Gives up the group to hand it to a new guard; the caller closes it, or gives it back with `keep`.
    public static func release() -> Int32 {
        state.withLock { state in
            let group = state.group
            state = State()
            return group
        }
    }

    /// Takes back a group that could not be handed on.
    public static func keep(_ descriptor: Int32) {
        state.withLock { state in
            if state.group < 0 { state.group = descriptor } else { _ = close(descriptor) }
        }
    }

    /// True while a guard is connected and this process holds its group, so stubs can be made without waiting on it.
    public static var isActive: Bool { state.withLock { $0.connected && $0.group >= 0 } }

    /// The roots the connected guard marks; empty while none is connected.
    public static var guardedRoots: [String] { state.withLock { $0.connected && $0.group >= 0 ? $0.roots : [] } }

    /// Runs `body` (the punch) with the file out of the watch, holding the group so it is not handed on meanwhile;
    /// where a group is required and none is held, makes no stub.
    static func unwatched<Value>(_ file: PosixFile, _ body: () throws(TieringError) -> Value) throws(TieringError) -> Value {
        let required = groupRequired.load(ordering: .acquiring)
        let outcome: Result<Value, TieringError> = state.withLock { state in
            guard state.group >= 0 else {
                if required { return .failure(TieringError(.storageUnavailable, "no stub guard watches \(file.path); no stub is made")) }
                do throws(TieringError) { return .success(try body()) } catch { return .failure(error) }
            }
            guard alto_fanotify_ignore_until_removed(state.group, file.descriptor) == 0 else {
                return .failure(TieringError.io("leave out of the on-access watch", file.path))
            }
            defer { _ = alto_fanotify_unignore(state.group, file.descriptor) }
            do throws(TieringError) { return .success(try body()) } catch { return .failure(error) }
        }
        return try outcome.get()
    }
}

#if canImport(Glibc)
import Glibc
#endif
