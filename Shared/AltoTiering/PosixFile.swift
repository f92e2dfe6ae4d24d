import Crypto
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

    /// SHA-256 of the whole file, read in 1 MiB chunks.
    func sha256() throws(TieringError) -> String {
        try copyContents(to: nil).hash
    }

    /// Reads the whole file once in 1 MiB chunks, hashing what it read and writing it to `destination` at the same
    /// offsets, so the hash is of exactly the bytes that were copied.
    func copyContents(to destination: PosixFile?) throws(TieringError) -> (bytes: Int64, hash: String) {
        var hasher = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var offset: Int64 = 0
        while true {
            let count = try read(into: buffer, at: offset)
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            hasher.update(bufferPointer: chunk)
            try destination?.write(chunk, at: offset)
            offset += Int64(count)
        }
        return (offset, ContentHash.format(hasher.finalize()))
    }
}
