import AltoModels
import CAltoLinux
import Foundation
import Glibc

/// The Linux stub (DESIGN.md, "Stubs on Linux"): the file keeps its path, size, times, mode and owner, its data
/// blocks past the resident preview are released by punching a hole, and `user.alto.stub` records the tier-2 copy.
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
        return decode(buffer[0..<count])
    }

    /// The stub record of an open file, or nil when it is not a stub.
    static func record(of file: PosixFile) throws(TieringError) -> StubRecord? {
        try file.attribute(StubRecord.attributeName).flatMap { decode($0[...]) }
    }

    /// The stub record behind a descriptor, for the on-access driver, which holds descriptors, not paths.
    public static func record(descriptor: Int32) -> StubRecord? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = alto_fgetxattr(descriptor, StubRecord.attributeName, &buffer, buffer.count)
        return count < 0 ? nil : decode(buffer[0..<count])
    }

    private static func decode(_ bytes: ArraySlice<UInt8>) -> StubRecord? {
        try? AltoJSON.decoder().decode(StubRecord.self, from: Data(bytes))
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
            throw TieringError.io("set the stub attribute on", file.path)
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
