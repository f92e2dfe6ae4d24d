import AltoModels
import AltoTiering
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What the tier-store tests share: one store for every stub, and files of random bytes described as a job does.
enum TierTestFiles {
    struct OneStore: TierStoreProvider {
        let store: any TierStore
        func store(for record: StubRecord) throws(TieringError) -> any TierStore { store }
    }

    static func make(_ folder: URL, _ name: String, bytes: Int) throws -> (TieringJob.File, Data) {
        var words = [UInt64](repeating: 0, count: (bytes + 7) / 8)
        for index in words.indices { words[index] = UInt64.random(in: .min ... .max) }
        let content = words.withUnsafeBytes { Data($0.prefix(bytes)) }
        let path = folder.appendingPathComponent(name).path
        try content.write(to: URL(fileURLWithPath: path))
        var info = stat()
        stat(path, &info)
        let modified = Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec / 1000) / 1e6)
        return (TieringJob.File(fileID: Int64(bytes), filePath: path, fileSize: Int64(bytes), lastModified: modified), content)
    }
}
