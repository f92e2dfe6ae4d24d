import AltoModels
import CAltoLinux
import Glibc

/// Opens the paths a job names, which come from the inventory and so from what users created: each is decoded from
/// the inventory's encoding (`PathEncoding`) and resolved from its managed root's descriptor with openat2, never
/// through "..", a symbolic link in any component, or another mount. A folder a user swaps for a link between the
/// scan and the job cannot make root open, tier or recall a file outside the roots, nor one on a mount no guard
/// watches.
public struct ConfinedPaths: Sendable {
    /// The managed roots, as the file system spells them, without a trailing slash.
    public let roots: [[UInt8]]

    public init(roots: [String]) {
        self.roots = roots.map { root in
            var bytes = Array(root.utf8)
            while bytes.count > 1 && bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
            return bytes
        }
    }

    /// The root `path` (encoded, as the inventory keeps it) lies below, and the path's bytes below it.
    public func locate(_ path: String) throws(TieringError) -> (root: [UInt8], relative: [UInt8]) {
        let bytes = PathEncoding.decode(path)
        guard !bytes.contains(0) else { throw TieringError(.outsideManagedRoots, "\(path) decodes to a name with a NUL byte") }
        let slash = UInt8(ascii: "/")
        let candidates = roots.filter { root in
            bytes.count > root.count + 1 && bytes.starts(with: root) && (root == [slash] || bytes[root.count] == slash)
        }
        guard let root = candidates.max(by: { $0.count < $1.count }) else {
            throw TieringError(.outsideManagedRoots, "\(path) is not below a managed root")
        }
        let relative = Array(bytes.dropFirst(root == [slash] ? 1 : root.count + 1))
        return (root, relative)
    }

    /// Opens the regular file `path` with `flags`; O_NOATIME is dropped where the kernel refuses it (a file root
    /// does not own on a file system that checks).
    public func open(_ path: String, flags: Int32) throws(TieringError) -> Int32 {
        let (root, relative) = try locate(path)
        let folder = Self.openFolder(root)
        guard folder >= 0 else { throw TieringError(.io, "the managed root of \(path) cannot be opened: \(String(cString: strerror(errno)))") }
        defer { close(folder) }
        // First only a handle (O_PATH: no read, no lease break, no fanotify event, a FIFO does not block): it must
        // be a regular file before it is opened, through the handle, so the same inode, whatever the path is by then.
        let handle = Self.open(relative, beneath: folder, flags: alto_o_path)
        guard handle >= 0 else {
            switch errno {
            case ELOOP, EXDEV:
                throw TieringError(.outsideManagedRoots, "\(path) is reached through a symbolic link or another mount; it is left alone")
            case ENOENT, ENOTDIR:
                throw TieringError(.changedSinceScan, "the file is gone")
            default:
                throw TieringError.io("open", path)
            }
        }
        defer { close(handle) }
        var info = stat()
        guard fstat(handle, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw TieringError(.changedSinceScan, "\(path) is no longer a regular file")
        }
        let reopened = "/proc/self/fd/\(handle)"
        var descriptor = Glibc.open(reopened, flags | O_CLOEXEC | O_NOCTTY)
        if descriptor < 0 && errno == EPERM && flags & alto_o_noatime != 0 {
            descriptor = Glibc.open(reopened, (flags & ~alto_o_noatime) | O_CLOEXEC | O_NOCTTY)
        }
        guard descriptor >= 0 else { throw TieringError.io("open", path) }
        return descriptor
    }

    private static func openFolder(_ root: [UInt8]) -> Int32 {
        (root + [0]).withUnsafeBufferPointer { name in
            name.withMemoryRebound(to: CChar.self) { Glibc.open($0.baseAddress!, alto_o_path | O_DIRECTORY | O_CLOEXEC) }
        }
    }

    private static func open(_ relative: [UInt8], beneath folder: Int32, flags: Int32) -> Int32 {
        (relative + [0]).withUnsafeBufferPointer { name in
            name.withMemoryRebound(to: CChar.self) { alto_open_beneath(folder, $0.baseAddress!, flags, 0) }
        }
    }
}
