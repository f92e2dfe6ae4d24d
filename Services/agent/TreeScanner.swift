import AltoModels
import Foundation
import Glibc

/// Walks a tree without following symbolic links and writes one CSV row per regular file; entries it cannot read
/// are counted and skipped, never fatal.
struct TreeScanner {
    private(set) var files = 0
    private(set) var bytes: Int64 = 0
    private(set) var unreadable = 0

    mutating func scan(root: String, into output: inout String) {
        var pending = [root]
        while let directory = pending.popLast() {
            guard let handle = opendir(directory) else {
                unreadable += 1
                continue
            }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                }
                if name == "." || name == ".." { continue }
                let path = directory == "/" ? "/" + name : directory + "/" + name
                var info = stat()
                guard lstat(path, &info) == 0 else {
                    unreadable += 1
                    continue
                }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    pending.append(path)
                case S_IFREG:
                    output += ScanCSV.row(record(path: path, info: info))
                    files += 1
                    bytes += Int64(info.st_size)
                default:
                    continue
                }
            }
        }
    }

    private func record(path: String, info: stat) -> ScanRecord {
        ScanRecord(
            path: path,
            size: Int64(info.st_size),
            lastModified: Self.date(info.st_mtim),
            lastAccessed: Self.date(info.st_atim),
            fileExtension: InventoryFile.fileExtension(of: path),
            permissions: String(info.st_mode & 0o7777, radix: 8).leftPadded(to: 4),
            owner: String(info.st_uid),
            hash: nil)
    }

    static func date(_ time: timespec) -> Date {
        Date(timeIntervalSince1970: Double(time.tv_sec) + Double(time.tv_nsec / 1000) / 1_000_000)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
