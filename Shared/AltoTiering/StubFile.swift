import AltoModels
import CAltoLinux
import Foundation
import Glibc

/// The Linux stub (DESIGN.md, "Stubs on Linux"): the file keeps its path, size, times, mode and owner, its data
/// blocks are released by punching a hole over the whole length, and `user.alto.stub` records the tier-2 copy.
public enum StubFile {
    /// Bytes the file occupies on disk, which a stub drops to (nearly) nothing.
    public static func allocatedBytes(_ path: String) throws(TieringError) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw TieringError.io("stat", path) }
        return Int64(info.st_blocks) * 512
    }

    /// The stub record of a path, or nil when the file is not a stub.
    public static func record(at path: String) throws(TieringError) -> StubRecord? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = alto_getxattr(path, StubRecord.attributeName, &buffer, buffer.count)
        if count < 0 {
            if errno == ENODATA { return nil }
            throw TieringError.io("read the stub attribute of", path)
        }
        return try? AltoJSON.decoder().decode(StubRecord.self, from: Data(buffer[0..<count]))
    }

    /// Marks the file as a stub and then releases its data, keeping its size and times. The attribute goes first:
    /// a crash between the two leaves a whole file that says where its copy is, never an unexplained hole.
    static func release(_ file: PosixFile, record: StubRecord, times: (timespec, timespec)) throws(TieringError) {
        let json: [UInt8]
        do { json = Array(try AltoJSON.encoder().encode(record)) } catch { throw TieringError(.io, "encode stub record: \(error)") }
        guard alto_fsetxattr(file.descriptor, StubRecord.attributeName, json, json.count) == 0 else {
            throw TieringError.io("set the stub attribute on", file.path)
        }
        guard alto_punch_hole(file.descriptor, 0, off_t(record.size)) == 0 else {
            let code = errno
            _ = alto_fremovexattr(file.descriptor, StubRecord.attributeName)
            throw TieringError.io("release the data blocks of", file.path, errno: code)
        }
        try file.sync()
        var restored = [times.0, times.1]
        guard futimens(file.descriptor, &restored) == 0 else { throw TieringError.io("restore the times of", file.path) }
    }
}
