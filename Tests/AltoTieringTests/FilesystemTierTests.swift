import AltoModels
import AltoTiering
import Foundation
import Testing

@Suite struct FilesystemTierTests {
    let folder: String
    let customer = UUID()
    let host = UUID()

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("alto-tier-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder + "/data", withIntermediateDirectories: true)
    }

    func makeFile(_ name: String, bytes: Int) throws -> (String, [UInt8], TieringJob.File) {
        var generator = SystemRandomNumberGenerator()
        let content = (0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let path = folder + "/data/" + name
        try Data(content).write(to: URL(fileURLWithPath: path))
        let modified = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as! Date
        return (path, content, TieringJob.File(fileID: 7, filePath: path, fileSize: Int64(bytes), lastModified: preciseModification(path) ?? modified))
    }

    func preciseModification(_ path: String) -> Date? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec / 1000) / 1_000_000)
    }

    @Test func tiersVerifiesStubsAndRecallsByteForByte() throws {
        let (path, content, file) = try makeFile("report, \"final\".pdf", bytes: 3 << 20)
        let tier = FilesystemTier(root: folder + "/tier2")
        let allocatedBefore = try StubFile.allocatedBytes(path)
        let result = tier.tier(file, customerID: customer, hostID: host, targetID: nil)
        #expect(result.outcome == .tiered, "\(result.reason ?? "")")
        let location = try #require(result.tieredLocation)
        #expect(location.contains(customer.uuidString.lowercased()))
        #expect(try ContentHash.ofFile(location) == result.hash)
        #expect(try Data(contentsOf: URL(fileURLWithPath: location)) == Data(content))

        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect(attributes[.size] as? Int == content.count)
        #expect(try StubFile.allocatedBytes(path) < allocatedBefore / 10)
        #expect(try StubFile.record(at: path)?.hash == result.hash)
        #expect(preciseModification(path) == file.lastModified)

        let record = try StubRecall.recall(path)
        #expect(record.location == location)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(content))
        #expect(try StubFile.record(at: path) == nil)
        #expect(preciseModification(path) == file.lastModified)
    }

    @Test func aFileChangedSinceTheScanIsSkippedAndKept() throws {
        let (path, content, file) = try makeFile("changing.log", bytes: 64 << 10)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("more".utf8))
        try handle.close()
        let result = FilesystemTier(root: folder + "/tier2").tier(file, customerID: customer, hostID: host, targetID: nil)
        #expect(result.outcome == .skipped)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(content + Array("more".utf8)))
        #expect(try StubFile.record(at: path) == nil)
    }

    @Test func aCorruptedCopyIsNeverWrittenOverTheStub() throws {
        let (path, _, file) = try makeFile("precious.bin", bytes: 256 << 10)
        let result = FilesystemTier(root: folder + "/tier2").tier(file, customerID: customer, hostID: host, targetID: nil)
        let location = try #require(result.tieredLocation)
        let copy = try FileHandle(forWritingTo: URL(fileURLWithPath: location))
        try copy.seek(toOffset: 1000)
        try copy.write(contentsOf: Data([0xFF, 0x00, 0xFF]))
        try copy.close()
        #expect(throws: TieringError.self) { try StubRecall.recall(path) }
        #expect(try StubFile.record(at: path) != nil)
    }
}

#if canImport(Glibc)
import Glibc
#endif
