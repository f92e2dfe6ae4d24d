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
                try copy.setAttribute("user.alto.original_path", object.originalPath)
                try copy.setAttribute("user.alto.sha256", source.contentHash)
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

    public func remove(_ location: String) async {
        guard let relative = try? Self.relative(location, to: root),
              let folder = try? PosixFile(path: root, flags: O_RDONLY | O_DIRECTORY) else { return }
        let name = (relative as NSString).lastPathComponent
        let parent = (relative as NSString).deletingLastPathComponent
        let directory = parent.isEmpty ? dup(folder.descriptor) : alto_open_beneath(folder.descriptor, parent, O_RDONLY | O_DIRECTORY, 1)
        guard directory >= 0 else { return }
        unlinkat(directory, name, 0)
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
            if let code = error.systemError, [ENOSPC, EDQUOT, EIO, ENOTCONN, ESTALE, EHOSTDOWN, EROFS].contains(code) {
                throw TieringError(.storageUnavailable, error.message)
            }
            throw error
        }
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
