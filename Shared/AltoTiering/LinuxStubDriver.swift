import AltoModels
import CAltoLinux
import Glibc

/// The Linux stub (DESIGN.md, "Stubs on Linux"): `trusted.alto.stub` and a hole past the resident preview, made
/// outside the on-access watch so the punch does not wait on the guard.
public struct LinuxStubDriver: StubDriver {
    public init() {}

    public func record(descriptor: Int32, path: String) throws(TieringError) -> StubRecord? {
        try StubFile.record(descriptor: descriptor, path: path)
    }

    public func makeStub(descriptor: Int32, path: String, record: StubRecord, times: (timespec, timespec)) throws(TieringError) {
        let file = PosixFile(adopting: dup(descriptor), path: path)
        try OnAccessWatch.unwatched(file) { () throws(TieringError) in
            try StubFile.release(file, record: record, times: times)
        }
    }

    public func releaseAgain(descriptor: Int32, record: StubRecord) {
        guard case .stub(let current) = StubFile.inspect(descriptor: descriptor), current == record else { return }
        _ = alto_punch_hole(descriptor, off_t(record.residentBytes), off_t(max(0, record.size - record.residentBytes)))
    }

    public func clearStub(descriptor: Int32, path: String, times: (timespec, timespec)) throws(TieringError) {
        // A concurrent recall of the same file (a reader and `alto-agent recall`) may have cleared it already.
        guard alto_fremovexattr(descriptor, StubRecord.attributeName) == 0 || errno == ENODATA else {
            throw TieringError.io("remove the stub attribute of", path)
        }
        var restored = [times.0, times.1]
        _ = futimens(descriptor, &restored)
    }
}
