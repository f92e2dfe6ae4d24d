import CSMBClient
import Foundation
import Glibc

/// One libsmbclient context: a connection to one SMB server with one set of credentials. Contexts are not
/// thread-safe, so each transfer makes its own and uses it on one blocking thread; errno turns into `TieringError`s
/// here, the one place that calls the C library.
final class SMBConnection {
    private let context: UnsafeMutablePointer<SMBCCTX>
    private let credentials: Credentials

    /// What libsmbclient's authentication callback hands the server; the context points at it as its user data.
    final class Credentials {
        let user: String
        let password: String
        let domain: String

        init(user: String, password: String, domain: String) {
            self.user = user
            self.password = password
            self.domain = domain
        }
    }

    /// libsmbclient's global state is not safe for two threads at once (Debian's build exports no
    /// `smbc_thread_posix`), so every SMB conversation of the process takes turns through this lock.
    private static let turn = NSLock()

    /// Runs `body`, which connects and talks SMB, while no other thread of the process does.
    static func exclusively<Value>(_ body: () throws(TieringError) -> Value) throws(TieringError) -> Value {
        turn.lock()
        defer { turn.unlock() }
        return try body()
    }

    init(user: String, password: String, domain: String, port: UInt16?) throws(TieringError) {
        guard let context = smbc_new_context() else { throw TieringError(.io, "libsmbclient could not allocate a context") }
        credentials = Credentials(user: user, password: password, domain: domain)
        smbc_setOptionProtocols(context, "SMB2_02", "SMB3")
        smbc_setOptionUseKerberos(context, 0)
        smbc_setOptionFallbackAfterKerberos(context, 1)
        if let port { smbc_setPort(context, port) }
        smbc_setOptionUserData(context, Unmanaged.passUnretained(credentials).toOpaque())
        smbc_setFunctionAuthDataWithContext(context) { context, _, _, workgroup, workgroupLength, user, userLength, password, passwordLength in
            guard let context, let data = smbc_getOptionUserData(context) else { return }
            let credentials = Unmanaged<Credentials>.fromOpaque(data).takeUnretainedValue()
            SMBConnection.copy(credentials.domain, into: workgroup, capacity: workgroupLength)
            SMBConnection.copy(credentials.user, into: user, capacity: userLength)
            SMBConnection.copy(credentials.password, into: password, capacity: passwordLength)
        }
        guard smbc_init_context(context) != nil else {
            let code = errno
            smbc_free_context(context, 1)
            throw TieringError(.io, "libsmbclient could not start: \(String(cString: strerror(code)))")
        }
        self.context = context
    }

    private static func copy(_ value: String, into buffer: UnsafeMutablePointer<CChar>?, capacity: Int32) {
        guard let buffer, capacity > 0 else { return }
        let bytes = Array(value.utf8.prefix(Int(capacity) - 1))
        for (index, byte) in bytes.enumerated() { buffer[index] = CChar(bitPattern: byte) }
        buffer[bytes.count] = 0
    }

    deinit { smbc_free_context(context, 1) }

    /// An open file on the share; closed by `close()` or when the value goes away.
    final class File {
        let connection: SMBConnection
        let handle: OpaquePointer
        let url: String
        private var open = true

        init(connection: SMBConnection, handle: OpaquePointer, url: String) {
            self.connection = connection
            self.handle = handle
            self.url = url
        }

        deinit { try? close() }

        func write(_ bytes: UnsafeRawBufferPointer) throws(TieringError) {
            var written = 0
            while written < bytes.count {
                let count = smbc_getFunctionWrite(connection.context)(connection.context, handle, bytes.baseAddress! + written,
                                                                      bytes.count - written)
                guard count > 0 else { throw SMBConnection.failure("write", url) }
                written += count
            }
        }

        func read(into buffer: UnsafeMutableRawBufferPointer) throws(TieringError) -> Int {
            let count = smbc_getFunctionRead(connection.context)(connection.context, handle, buffer.baseAddress, buffer.count)
            guard count >= 0 else { throw SMBConnection.failure("read", url) }
            return count
        }

        /// SMB2 CLOSE, which the server answers only once it holds the data.
        func close() throws(TieringError) {
            guard open else { return }
            open = false
            guard smbc_getFunctionClose(connection.context)(connection.context, handle) == 0 else {
                throw SMBConnection.failure("close", url)
            }
        }
    }

    func open(_ url: String, flags: Int32, mode: mode_t = 0o600) throws(TieringError) -> File {
        guard let handle = smbc_getFunctionOpen(context)(context, url, flags, mode) else { throw Self.failure("open", url) }
        return File(connection: self, handle: handle, url: url)
    }

    /// Creates every missing folder of `url`'s path below the share.
    func makeFolders(_ url: String, below share: String) throws(TieringError) {
        var folder = share
        for part in url.dropFirst(share.count).split(separator: "/").dropLast() {
            folder += "/" + part
            if smbc_getFunctionMkdir(context)(context, folder, 0o700) != 0 && errno != EEXIST {
                throw Self.failure("create the folder", folder)
            }
        }
    }

    func rename(_ from: String, to: String) throws(TieringError) {
        _ = smbc_getFunctionUnlink(context)(context, to)
        guard smbc_getFunctionRename(context)(context, from, context, to) == 0 else { throw Self.failure("rename", from) }
    }

    /// True when the server answers for `url` (a share or a file on it).
    func answers(_ url: String) -> Bool {
        var info = stat()
        return smbc_getFunctionStat(context)(context, url, &info) == 0
    }

    /// A file a folder listing found.
    struct Entry {
        var name: String
        var size: Int64
        var modifiedAt: Date
    }

    /// The files and the names of the folders directly in the folder at `url`.
    func entries(of url: String) throws(TieringError) -> ([Entry], [String]) {
        guard let directory = smbc_getFunctionOpendir(context)(context, url) else { throw Self.failure("list", url) }
        defer { _ = smbc_getFunctionClosedir(context)(context, directory) }
        var files: [Entry] = []
        var folders: [String] = []
        while let info = smbc_getFunctionReaddirPlus(context)(context, directory) {
            guard let cName = info.pointee.name else { continue }
            let name = String(cString: cName)
            if name == "." || name == ".." { continue }
            if info.pointee.attrs & 0x10 != 0 {
                folders.append(name)
            } else {
                let modified = info.pointee.mtime_ts
                files.append(Entry(name: name, size: Int64(info.pointee.size),
                                   modifiedAt: Date(timeIntervalSince1970: Double(modified.tv_sec) + Double(modified.tv_nsec) / 1e9)))
            }
        }
        return (files, folders)
    }

    func unlink(_ url: String) {
        _ = smbc_getFunctionUnlink(context)(context, url)
    }

    /// Errors that mean the server or share cannot be reached put the job back; others fail the file.
    static func failure(_ operation: String, _ url: String) -> TieringError {
        let code = errno
        let message = "\(operation) \(url): \(String(cString: strerror(code)))"
        switch code {
        case ECONNREFUSED, ECONNABORTED, ECONNRESET, ENETRESET, ENETDOWN, ENETUNREACH, EHOSTUNREACH, ETIMEDOUT, ENOTCONN, EPIPE,
             EIO, ENOSPC, EDQUOT:
            return TieringError(.storageUnavailable, message, systemError: code)
        case EACCES, EPERM:
            return TieringError(.rejected, message, systemError: code)
        case ENOENT:
            return TieringError(.notFound, message, systemError: code)
        default:
            return TieringError(.io, message, systemError: code)
        }
    }
}
