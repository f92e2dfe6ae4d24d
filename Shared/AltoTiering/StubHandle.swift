import AltoModels
import CAltoLinux
import Foundation
import Glibc

/// A stub found by its inode rather than its path. The kernel's file handle, taken when the file became a stub,
/// still opens it after a user renamed or moved it within its file system and no longer opens it once the file is
/// deleted, so reconciliation can tell a stub moved (its registry row follows it) from one deleted (its copy is kept
/// for the target's retention window, then purged) without walking the host's folders.
public struct StubHandle: Sendable, Equatable {
    /// The file system's id (statfs `f_fsid`): a handle means something only on the file system it came from.
    public var fileSystem: UInt64
    public var type: Int32
    public var bytes: [UInt8]

    public init(fileSystem: UInt64, type: Int32, bytes: [UInt8]) {
        self.fileSystem = fileSystem
        self.type = type
        self.bytes = bytes
    }

    /// The handle of an open file, nil where its file system gives none (some network file systems).
    public static func of(descriptor: Int32) -> StubHandle? {
        var type: Int32 = 0
        var fileSystem: UInt64 = 0
        var bytes = [UInt8](repeating: 0, count: 128)
        let count = alto_file_handle(descriptor, &type, &bytes, UInt32(bytes.count), &fileSystem)
        // A file system of no id (some FUSE and network ones) cannot be told from another: no handle then.
        guard count > 0, fileSystem != 0 else { return nil }
        return StubHandle(fileSystem: fileSystem, type: type, bytes: Array(bytes[0..<Int(count)]))
    }

    /// The handle of the file at a path (not following a final symbolic link), opened with O_PATH so nothing is recalled.
    public static func of(path: String) -> StubHandle? {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | alto_o_path)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        return of(descriptor: descriptor)
    }

    /// `<file system id>:<type>:<bytes>` in hexadecimal, as the registry keeps it.
    public var text: String {
        String(fileSystem, radix: 16) + ":" + String(type) + ":" + bytes.map { String(format: "%02x", $0) }.joined()
    }

    public init?(text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let fileSystem = UInt64(parts[0], radix: 16), let type = Int32(parts[1]),
              parts[2].count % 2 == 0, !parts[2].isEmpty, parts[2].count <= 256 else { return nil }
        var bytes: [UInt8] = []
        var index = parts[2].startIndex
        while index < parts[2].endIndex {
            let next = parts[2].index(index, offsetBy: 2)
            guard let byte = UInt8(parts[2][index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.init(fileSystem: fileSystem, type: type, bytes: bytes)
    }

    /// Where the file a handle names is now.
    public enum Whereabouts: Sendable, Equatable {
        /// Its inode is gone from its file system: the file was deleted (every name of it).
        case gone
        /// It is there: at `path` (raw bytes) when that name can be confirmed, nil when not; with the stub record it
        /// carries now, nil when it carries none.
        case found(path: [UInt8]?, record: StubRecord?)
        /// It cannot be told, as when its file system is not mounted there or the agent may not open handles.
        case unknown(String)
    }

    /// Looks for the file through the nearest folder of `path` that exists, which must be on the handle's file
    /// system. Opens it with O_PATH only, so no reader is seen and nothing is recalled.
    public func locate(near path: String) -> Whereabouts {
        var folder = (path as NSString).deletingLastPathComponent
        var directory: Int32 = -1
        while directory < 0 {
            // open_by_handle_at takes no O_PATH descriptor for the file system; a folder opened to read is harmless.
            directory = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if directory >= 0 { break }
            guard errno == ENOENT, folder != "/", !folder.isEmpty else {
                return .unknown("no folder of \(path) can be opened: \(String(cString: strerror(errno)))")
            }
            folder = (folder as NSString).deletingLastPathComponent
        }
        defer { close(directory) }
        var mounted: UInt64 = 0
        guard fileSystem != 0, alto_file_system_id(directory, &mounted) == 0, mounted == fileSystem else {
            return .unknown("the file system the stub was on is not mounted at \(folder)")
        }
        let file = alto_open_handle(directory, type, bytes, UInt32(bytes.count))
        guard file >= 0 else {
            return errno == ESTALE ? .gone : .unknown("its handle cannot be opened: \(String(cString: strerror(errno)))")
        }
        defer { close(file) }
        var info = stat()
        guard fstat(file, &info) == 0 else { return .unknown("its inode cannot be examined: \(String(cString: strerror(errno)))") }
        // Unlinked but held open by some process: deleted all the same.
        guard info.st_nlink > 0 else { return .gone }
        let record: StubRecord?
        do throws(TieringError) {
            record = try StubFile.record(pathDescriptor: file, path: path)
        } catch {
            return .unknown(error.message)
        }
        return .found(path: Self.confirmedName(of: file, info), record: record)
    }

    /// The name /proc gives the open file, when that name is indeed this inode: a file opened by handle may be
    /// disconnected from the folder tree in the kernel's cache, and then its name is not its path.
    private static func confirmedName(of file: Int32, _ info: stat) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/fd/\(file)", &buffer, buffer.count)
        guard count > 0, count < buffer.count, buffer[0] == UInt8(ascii: "/") else { return nil }
        let name = Array(buffer[0..<count])
        var named = stat()
        let same = (name + [0]).withUnsafeBufferPointer { path in
            path.withMemoryRebound(to: CChar.self) { lstat($0.baseAddress!, &named) == 0 }
        }
        guard same, named.st_dev == info.st_dev, named.st_ino == info.st_ino else { return nil }
        return name
    }
}
