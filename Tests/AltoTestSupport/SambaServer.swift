import Foundation

/// Debian's smbd as a real SMB peer for the tests, on loopback.
public enum SambaServer {
    /// Starts a Samba server of the test's own on `port` (by default one the kernel picks), sharing `<work>/samba/share`
    /// as `tier2` to user root with password `secret`; starting it again on the same folder and port brings the
    /// same share back.
    public static func start(in work: URL, port: Int = PeerServer.freePort()) async throws -> PeerServer {
        for folder in ["run", "lock", "state", "cache", "private", "share", "log"] {
            try FileManager.default.createDirectory(at: work.appendingPathComponent("samba/\(folder)"), withIntermediateDirectories: true)
        }
        let samba = work.appendingPathComponent("samba").path
        let configuration = work.appendingPathComponent("samba/smb.conf").path
        try """
            [global]
            workgroup = WORKGROUP
            server role = standalone server
            smb ports = \(port)
            bind interfaces only = yes
            interfaces = 127.0.0.1
            pid directory = \(samba)/run
            lock directory = \(samba)/lock
            state directory = \(samba)/state
            cache directory = \(samba)/cache
            private dir = \(samba)/private
            ncalrpc dir = \(samba)/run/ncalrpc
            log file = \(samba)/log/%m.log
            passdb backend = tdbsam:\(samba)/private/passdb.tdb
            map to guest = Never
            ea support = yes
            load printers = no
            disable spoolss = yes
            server min protocol = SMB2_02
            [tier2]
            path = \(samba)/share
            read only = no
            force user = root
            """.write(toFile: configuration, atomically: true, encoding: .utf8)
        let added = try await Command.run("sh", ["-c", "printf 'secret\\nsecret\\n' | smbpasswd -c '\(configuration)' -a -s root"])
        guard added.status == 0 else { throw TestFailure("smbpasswd failed: \(added.errors)") }
        return try await PeerServer(["smbd", "--foreground", "--no-process-group", "--debug-stdout", "-s", configuration],
                                    name: "smbd", logFolder: work, port: port)
    }
}
