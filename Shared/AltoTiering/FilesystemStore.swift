import AltoModels
import CAltoLinux
import Foundation
import Glibc

/// A folder as the second tier: local disk, or an NFS or SMB share the OS mounted. The embedded default, and what
/// the demo uses. A copy is written under a temporary name, fsynced, renamed into place and its folder fsynced,
/// then its pages are dropped from the cache and it is read back from the device and hashed like any store's copy.
public struct FilesystemStore: TierStore {
    /// The folder that holds every tenant's tier-2 tree; it must exist (a missing root is a share not mounted).
    public let root: String

    public init(root: String) {
        self.root = root
    }

    public func store(_ source: TierSource, as object: TierObject) async throws(TieringError) -> StoredCopy {
        let root = self.root
        let destination = try await Blocking.run { () throws(TieringError) -> String in
            try Self.checkReachable(root)
            let destination = root + "/" + object.key
            let folder = (destination as NSString).deletingLastPathComponent
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw TieringError(.storageUnavailable, "cannot create \(folder): \(error.localizedDescription)")
            }
            let partial = destination + ".partial"
            unlink(partial)
            do throws(TieringError) {
                let copy = try Self.classify { () throws(TieringError) in try PosixFile(path: partial, flags: O_RDWR | O_CREAT | O_TRUNC, mode: 0o600) }
                var offset: Int64 = 0
                while let chunk = try source.next() {
                    try Self.classify { () throws(TieringError) in try copy.write(chunk, at: offset) }
                    offset += Int64(chunk.count)
                }
                try Self.classify { () throws(TieringError) in try copy.sync() }
                guard rename(partial, destination) == 0 else { throw TieringError.io("rename into", destination) }
                try Self.classify { () throws(TieringError) in try PosixFile(path: folder, flags: O_RDONLY | O_DIRECTORY).sync() }
                copy.dropCachedPages()
                return destination
            } catch {
                unlink(partial)
                throw error
            }
        }
        return try await readBack(destination, for: source)
    }

    /// Reads a copy only from below the target's folder, whatever its location says: the location is resolved from
    /// the folder's descriptor without "..", symbolic links or magic links (openat2 RESOLVE_BENEATH).
    public func retrieve(_ location: String, into sink: any TierSink) async throws(TieringError) {
        let root = self.root
        try await Blocking.run { () throws(TieringError) in
            try Self.checkReachable(root)
            let folder = try PosixFile(path: root, flags: O_RDONLY | O_DIRECTORY)
            let relative = try Self.relative(location, to: root)
            let descriptor = alto_open_beneath(folder.descriptor, relative, O_RDONLY, 1)
            guard descriptor >= 0 else {
                if errno == EXDEV || errno == ELOOP {
                    throw TieringError(.untrustedRecord, "the copy \(location) is reached through a symbolic link or leaves \(root)")
                }
                throw TieringError.io("open", location)
            }
            try PosixFile(adopting: descriptor, path: location).stream(into: sink)
        }
    }

    /// Writes the description the way a copy is written: under a temporary name, fsynced, renamed, folder fsynced.
    public func storeDescription(_ description: [UInt8], of location: String) async throws(TieringError) {
        let root = self.root
        try await Blocking.run { () throws(TieringError) in
            try Self.checkReachable(root)
            _ = try Self.relative(location, to: root)
            let destination = CopyDescription.location(describing: location)
            let partial = destination + ".partial"
            do throws(TieringError) {
                let file = try Self.classify { () throws(TieringError) in try PosixFile(path: partial, flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o600) }
                let failure = description.withUnsafeBytes { bytes -> TieringError? in
                    do throws(TieringError) { try file.write(bytes, at: 0) } catch { return error }
                    return nil
                }
                if let failure { throw Self.classified(failure) }
                try Self.classify { () throws(TieringError) in try file.sync() }
                guard rename(partial, destination) == 0 else { throw TieringError.io("rename into", destination) }
                try Self.classify { () throws(TieringError) in
                    try PosixFile(path: (destination as NSString).deletingLastPathComponent, flags: O_RDONLY | O_DIRECTORY).sync()
                }
            } catch {
                unlink(partial)
                throw error
            }
        }
    }

    /// Walks the folders below `prefix` from the root's descriptor, never following a symbolic link, a folder at a
    /// time: only the folders still to visit and one page are held.
    public func list(prefix: String, page: ([TierEntry]) async throws(TieringError) -> Void) async throws(TieringError) {
        let root = self.root
        let start = prefix.split(separator: "/").joined(separator: "/")
        var folders = [start]
        while let folder = folders.popLast() {
            let (entries, subfolders) = try await Blocking.run { () throws(TieringError) -> ([TierEntry], [String]) in
                try Self.checkReachable(root)
                return try Self.read(folder: folder, below: root)
            }
            folders += subfolders
            try await Self.hand(entries, to: page)
        }
    }

    /// The regular files and the folders directly in `folder` (relative to `root`; "" is the root itself).
    private static func read(folder: String, below root: String) throws(TieringError) -> ([TierEntry], [String]) {
        let top = try PosixFile(path: root, flags: O_RDONLY | O_DIRECTORY)
        let descriptor = folder.isEmpty ? dup(top.descriptor) : alto_open_beneath(top.descriptor, folder, O_RDONLY | O_DIRECTORY, 1)
        guard descriptor >= 0 else {
            if errno == ENOENT { return ([], []) }
            throw TieringError.io("open the folder", root + "/" + folder)
        }
        guard let directory = fdopendir(descriptor) else {
            close(descriptor)
            throw TieringError.io("read the folder", root + "/" + folder)
        }
        defer { closedir(directory) }
        var entries: [TierEntry] = []
        var subfolders: [String] = []
        let base = folder.isEmpty ? "" : folder + "/"
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name == "." || name == ".." { continue }
            var info = stat()
            guard fstatat(dirfd(directory), name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                subfolders.append(base + name)
            case S_IFREG:
                let modified = Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
                entries.append(TierEntry(location: root + "/" + base + name, key: base + name, size: Int64(info.st_size), modifiedAt: modified))
            default:
                continue
            }
        }
        return (entries, subfolders)
    }

    public func remove(_ location: String) async {
        guard let relative = try? Self.relative(location, to: root),
              let folder = try? PosixFile(path: root, flags: O_RDONLY | O_DIRECTORY) else { return }
        let name = (relative as NSString).lastPathComponent
        let parent = (relative as NSString).deletingLastPathComponent
        let directory = parent.isEmpty ? dup(folder.descriptor) : alto_open_beneath(folder.descriptor, parent, O_RDONLY | O_DIRECTORY, 1)
        guard directory >= 0 else { return }
        unlinkat(directory, name, 0)
        unlinkat(directory, name + CopyDescription.suffix, 0)
        close(directory)
    }

    /// The part of a copy's location below the target's folder; a location elsewhere is not this target's copy.
    static func relative(_ location: String, to root: String) throws(TieringError) -> String {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        guard location.hasPrefix(prefix), location.count > prefix.count else {
            throw TieringError(.untrustedRecord, "the copy \(location) is not below the target's folder \(root)")
        }
        return String(location.dropFirst(prefix.count))
    }

    /// A root that is gone (an unmounted share) or answers with a transport error is the tier being unavailable,
    /// which puts the job back; it is not a reason to fail the file.
    private static func checkReachable(_ root: String) throws(TieringError) {
        var info = stat()
        guard stat(root, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw TieringError(.storageUnavailable, "the tier-2 folder \(root) is not reachable: \(String(cString: strerror(errno)))")
        }
    }

    private static func classify<Value>(_ operation: () throws(TieringError) -> Value) throws(TieringError) -> Value {
        do {
            return try operation()
        } catch {
            throw classified(error)
        }
    }

    private static func classified(_ error: TieringError) -> TieringError {
        guard let code = error.systemError, [ENOSPC, EDQUOT, EIO, ENOTCONN, ESTALE, EHOSTDOWN, EROFS].contains(code) else { return error }
        return TieringError(.storageUnavailable, error.message)
    }
}

extension FilesystemStore {
    /// A folder on the agent's host: local disk, or an NFS or SMB share the OS mounted there.
    public static let kind = StorageKind(
        name: .filesystem, locationForm: "/folder (absolute, on the agent's host)", settings: [],
        locationProblem: StorageKind.problem { location throws(TieringError) in _ = try root(of: location) },
        make: { target throws(TieringError) in FilesystemStore(root: try root(of: target.location)) })

    static func root(of location: String) throws(TieringError) -> String {
        guard location.hasPrefix("/") else { throw TieringError(.rejected, "a filesystem target's location must be an absolute path") }
        return location
    }
}
