import AltoTestSupport
import Foundation

/// What systemd does for `alto-stub-guard.service`, where systemd cannot run (it is no PID 1 here): starts the
/// guard with `NOTIFY_SOCKET`, keeps the descriptors it stores (`FDSTORE=1`), kills the unit's processes as a crash
/// of the unit would, and starts the guard again with the stored group (`LISTEN_FDS`, `LISTEN_PID`,
/// `LISTEN_FDNAMES`). Driven through files in `folder`: it writes `ready-1`, `killed` and `ready-2`, and acts on
/// `kill` and `stop`.
final class ServiceManagerStandIn: @unchecked Sendable {
    let folder: URL
    private let process = Process()

    init(folder: URL, executable: String, environment: [String: String]) throws {
        self.folder = folder
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", Self.script, folder.path, executable]
        process.environment = environment
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        let log = folder.appendingPathComponent("service-manager.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
    }

    func waitFor(_ marker: String) async throws {
        try await RunningSuite.waitUntil("the service manager stand-in says \(marker)", timeout: .seconds(30)) {
            FileManager.default.fileExists(atPath: folder.appendingPathComponent(marker).path)
        }
    }

    func tell(_ order: String) {
        _ = FileManager.default.createFile(atPath: folder.appendingPathComponent(order).path, contents: nil)
    }

    func stop() {
        tell("stop")
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { process.interrupt() }
    }

    private static let script = #"""
    import os, signal, socket, sys, time
    folder, executable = sys.argv[1], sys.argv[2]
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(folder + "/notify.sock")
    stored = None

    def start(group):
        pid = os.fork()
        if pid == 0:
            environment = dict(os.environ, NOTIFY_SOCKET=folder + "/notify.sock")
            if group is not None:
                os.dup2(group, 3)
                environment.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES="fanotify")
            os.execve(executable, [executable, "guard"], environment)
        return pid

    def wait_ready():
        global stored
        while True:
            message, fds, _, _ = socket.recv_fds(notify, 4096, 4)
            for fd in fds:
                if stored is None and b"FDNAME=fanotify" in message:
                    stored = fd
                else:
                    os.close(fd)
            if b"READY=1" in message:
                return

    def wait_for(name):
        while not os.path.exists(folder + "/" + name):
            time.sleep(0.05)

    def mark(name):
        open(folder + "/" + name, "w").close()

    def children(parent):
        found = []
        for entry in os.listdir("/proc"):
            try:
                if entry.isdigit() and open("/proc/%s/stat" % entry).read().rsplit(")", 1)[1].split()[1] == str(parent):
                    found.append(int(entry))
            except OSError:
                pass
        return found

    keeper = start(None)
    wait_ready()
    mark("ready-1")
    wait_for("kill")
    for pid in children(keeper) + [keeper]:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(keeper, 0)
    mark("killed")
    time.sleep(3)
    keeper = start(stored)
    wait_ready()
    mark("ready-2")
    wait_for("stop")
    os.kill(keeper, signal.SIGTERM)
    os.waitpid(keeper, 0)
    """#
}
