import AltoModels
import CAltoLinux
import Foundation
import Glibc

/// The Linux stub (DESIGN.md, "Stubs on Linux"): the file keeps its path, size, times, mode and owner, its data
/// blocks past the resident preview are released by punching a hole, and `trusted.alto.stub` records the tier-2 copy.
public enum StubFile {
    /// Bytes the file occupies on disk, which a stub drops to (nearly) nothing.
    public static func allocatedBytes(_ path: String) throws(TieringError) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw TieringError.io("stat", path) }
        return Int64(info.st_blocks) * 512
    }

    /// What a file's attributes say about it, read from an open descriptor so that the file cannot be swapped
    /// between the check and the use.
    public enum Inspection: Sendable, Equatable {
        case ordinary
        case stub(StubRecord)
        /// A stub record where its owner could have written it (`user.alto.stub`): never followed.
        case forged
        /// A `trusted.alto.stub` that cannot be decoded or makes no sense.
        case damaged(String)
    }

    public static func inspect(descriptor: Int32) -> Inspection {
        switch attribute(StubRecord.attributeName, of: descriptor) {
        case .value(let bytes):
            guard let record = try? AltoJSON.decoder().decode(StubRecord.self, from: Data(bytes)) else {
                return .damaged("the stub record is not valid JSON of a stub")
            }
            if let problem = record.problem { return .damaged("the stub record is unusable: \(problem)") }
            return .stub(record)
        case .unreadable(let code):
            return .damaged("the stub record cannot be read: \(String(cString: strerror(code)))")
        case .absent:
            if case .value = attribute(StubRecord.forgeableAttributeName, of: descriptor) { return .forged }
            return .ordinary
        }
    }

    /// The stub record of an open file, nil for an ordinary one; a forged or damaged record is an error.
    public static func record(descriptor: Int32, path: String) throws(TieringError) -> StubRecord? {
        switch inspect(descriptor: descriptor) {
        case .ordinary: return nil
        case .stub(let record): return record
        case .forged:
            throw TieringError(.untrustedRecord, "\(path) carries a stub record in \(StubRecord.forgeableAttributeName), where its owner "
                               + "can write one; it is not followed")
        case .damaged(let problem): throw TieringError(.untrustedRecord, "\(path): \(problem)")
        }
    }

    /// The stub record of a path (not following a final symbolic link), for tests and tools; recalls read it
    /// from the descriptor they fill.
    public static func record(at path: String) throws(TieringError) -> StubRecord? {
        try record(in: AT_FDCWD, named: path, path: path)
    }

    /// The stub record of `name` in an open directory, without opening the file for reading: an O_PATH descriptor
    /// raises no fanotify event, where a scan's open of a stub would be a reader's and recall it.
    public static func record(in directory: Int32, named name: UnsafePointer<CChar>, path: String) throws(TieringError) -> StubRecord? {
        let descriptor = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | alto_o_path)
        guard descriptor >= 0 else { throw TieringError.io("open", path) }
        defer { close(descriptor) }
        return try record(pathDescriptor: descriptor, path: path)
    }

    /// The stub record of a file opened with O_PATH, which opens no file for reading and so recalls none.
    static func record(pathDescriptor descriptor: Int32, path: String) throws(TieringError) -> StubRecord? {
        // fgetxattr refuses O_PATH descriptors; the same file through /proc does not.
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = alto_getxattr("/proc/self/fd/\(descriptor)", StubRecord.attributeName, &buffer, buffer.count)
        if count < 0 {
            if errno == ENODATA || errno == ENOTSUP { return nil }
            throw TieringError.io("read the stub record of", path)
        }
        guard let record = try? AltoJSON.decoder().decode(StubRecord.self, from: Data(buffer[0..<count])), record.problem == nil else {
            throw TieringError(.untrustedRecord, "\(path): the stub record is unusable")
        }
        return record
    }

    private enum Attribute {
        case value([UInt8])
        case absent
        case unreadable(errno: Int32)
    }

    private static func attribute(_ name: String, of descriptor: Int32) -> Attribute {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = alto_fgetxattr(descriptor, name, &buffer, buffer.count)
        if count < 0 { return errno == ENODATA || errno == ENOTSUP ? .absent : .unreadable(errno: errno) }
        return .value(Array(buffer[0..<count]))
    }

    /// The resident preview rounded up to whole file-system blocks, which is what a hole punch can leave.
    static func residentBytes(preview: Int64, blockSize: Int64) -> Int64 {
        guard preview > 0 else { return 0 }
        let block = max(512, blockSize)
        return (preview + block - 1) / block * block
    }

    /// Marks the file as a stub and then releases its data past the resident preview, keeping its size and times.
    /// The attribute goes first: a crash between the two leaves a whole file that says where its copy is, never an
    /// unexplained hole.
    static func release(_ file: PosixFile, record: StubRecord, times: (timespec, timespec)) throws(TieringError) {
        let json: [UInt8]
        do { json = Array(try AltoJSON.encoder().encode(record)) } catch { throw TieringError(.io, "encode stub record: \(error)") }
        guard alto_fsetxattr(file.descriptor, StubRecord.attributeName, json, json.count) == 0 else {
            let code = errno
            throw TieringError(.io, "cannot keep the stub record of \(file.path) in \(StubRecord.attributeName) (\(String(cString: strerror(code)))): "
                               + "the agent needs CAP_SYS_ADMIN and a file system with trusted attributes", systemError: code)
        }
        guard alto_punch_hole(file.descriptor, off_t(record.residentBytes), off_t(record.size - record.residentBytes)) == 0 else {
            let code = errno
            _ = alto_fremovexattr(file.descriptor, StubRecord.attributeName)
            throw TieringError.io("release the data blocks of", file.path, errno: code)
        }
        // From here the file is a stub whatever happens: its record is set and its copy verified, so a failed
        // flush or time restore must not make the caller throw the copy away.
        _ = fsync(file.descriptor)
        var restored = [times.0, times.1]
        _ = futimens(file.descriptor, &restored)
    }
}
