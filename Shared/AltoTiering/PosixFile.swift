import CAltoLinux
import Glibc

/// An open POSIX file descriptor, closed when the value goes away.
final class PosixFile {
    let descriptor: Int32
    let path: String

    init(path: String, flags: Int32, mode: mode_t = 0o600) throws(TieringError) {
        let descriptor = open(path, flags | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw TieringError.io("open", path) }
        self.descriptor = descriptor
        self.path = path
    }

    /// Adopts a descriptor someone else opened (a fanotify event's), closing it when done.
    init(adopting descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { close(descriptor) }

    func status() throws(TieringError) -> stat {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw TieringError.io("stat", path) }
        return info
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(TieringError) -> Int {
        while true {
            let count = pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset))
            if count >= 0 { return count }
            if errno != EINTR { throw TieringError.io("read", path) }
        }
    }

    /// Fills as much of `buffer` as the file has from `offset`, so a short read means the end of the file.
    func readFully(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(TieringError) -> Int {
        var filled = 0
        while filled < buffer.count {
            let count = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]), at: offset + Int64(filled))
            if count == 0 { break }
            filled += count
        }
        return filled
    }

    func write(_ buffer: UnsafeRawBufferPointer, at offset: Int64) throws(TieringError) {
        var written = 0
        while written < buffer.count {
            let count = pwrite(descriptor, buffer.baseAddress! + written, buffer.count - written, off_t(offset) + off_t(written))
            if count < 0 {
                if errno == EINTR { continue }
                throw TieringError.io("write", path)
            }
            written += count
        }
    }

    func sync() throws(TieringError) {
        guard fsync(descriptor) == 0 else { throw TieringError.io("fsync", path) }
    }

    /// Drops the file's pages from the cache, so the next read comes from the device, not from what was written.
    func dropCachedPages() {
        _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED)
    }

    func setAttribute(_ name: String, _ value: String) throws(TieringError) {
        let bytes = Array(value.utf8)
        guard alto_fsetxattr(descriptor, name, bytes, bytes.count) == 0 else {
            throw TieringError.io("set \(name) on", path)
        }
    }

    func attribute(_ name: String) throws(TieringError) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = alto_fgetxattr(descriptor, name, &buffer, buffer.count)
        if count < 0 {
            if errno == ENODATA { return nil }
            throw TieringError.io("read \(name) of", path)
        }
        return Array(buffer[0..<count])
    }

    /// SHA-256 of the whole file, read in 1 MiB chunks.
    func sha256() throws(TieringError) -> String {
        let sink = HashingSink()
        try stream(into: sink)
        return sink.hash()
    }

    /// Hands the whole file, front to back, to `sink` in 1 MiB chunks.
    func stream(into sink: any TierSink) throws(TieringError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: TierSource.chunkBytes, alignment: 4096)
        defer { buffer.deallocate() }
        var offset: Int64 = 0
        while true {
            let count = try read(into: buffer, at: offset)
            if count == 0 { return }
            try sink.receive(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            offset += Int64(count)
        }
    }
}
