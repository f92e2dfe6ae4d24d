import Foundation
import Glibc

/// A test file of random bytes, made cold (read and changed in 2017) when a rule of days since modified or accessed
/// should select it: the fixture every end-to-end test of tiering starts from.
public enum ColdFile {
    public static let longAgo = timespec(tv_sec: 1_500_000_000, tv_nsec: 0)

    /// Writes `size` random bytes at `path`, backdated when `cold`, and returns them.
    @discardableResult
    public static func write(_ path: String, size: Int, cold: Bool = true) throws -> Data {
        let content = Data((0..<size).map { _ in UInt8.random(in: 0...255) })
        try content.write(to: URL(fileURLWithPath: path))
        if cold {
            var times = [longAgo, longAgo]
            guard utimensat(AT_FDCWD, path, &times, 0) == 0 else { throw TestFailure("cannot backdate \(path): errno \(errno)") }
        }
        return content
    }
}
