import AltoModels
import AltoTiering
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The one store these tests tier to, whatever a stub names.
struct OneStore: TierStoreProvider {
    let store: any TierStore
    func store(for record: StubRecord) throws(TieringError) -> any TierStore { store }
}

/// A tier that damages what it stores, as a failing disk or a buggy gateway would; its read-back tells.
struct CorruptingStore: TierStore {
    let inner: FilesystemStore

    func store(_ source: TierSource, as object: TierObject) async throws(TieringError) -> StoredCopy {
        let copy = try await inner.store(source, as: object)
        guard let handle = FileHandle(forUpdatingAtPath: copy.location) else { return copy }
        handle.seek(toFileOffset: 10)
        handle.write(Data([0xA5]))
        handle.closeFile()
        return StoredCopy(location: copy.location, storedBytes: copy.storedBytes, verifiedHash: try ContentHash.ofFile(copy.location))
    }

    func retrieve(_ location: String, into sink: any TierSink) async throws(TieringError) {
        try await inner.retrieve(location, into: sink)
    }

    func storeDescription(_ description: [UInt8], of location: String) async throws(TieringError) {
        try await inner.storeDescription(description, of: location)
    }

    func list(prefix: String, page: ([TierEntry]) async throws(TieringError) -> Void) async throws(TieringError) {
        try await inner.list(prefix: prefix, page: page)
    }

    func remove(_ location: String) async {
        await inner.remove(location)
    }
}

@Suite struct FileTiererTests {
    let folder: String
    let customer = UUID()
    let host = UUID()
    let target = StorageTargetReference(id: UUID(), kind: .filesystem, location: "")

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("alto-tier-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder + "/data", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder + "/tier2", withIntermediateDirectories: true)
    }

    var store: FilesystemStore { FilesystemStore(root: folder + "/tier2") }
    var paths: ConfinedPaths { ConfinedPaths(roots: [folder + "/data"]) }

    func tierer(_ configure: (inout FileTierer.Options) -> Void = { _ in }) -> FileTierer {
        var options = FileTierer.Options()
        configure(&options)
        return FileTierer(store: store, target: target, customerID: customer, hostID: host, paths: paths, options: options)
    }

    func makeFile(_ name: String, bytes: Int, compressible: Bool = false) throws -> (String, [UInt8], TieringJob.File) {
        var generator = SystemRandomNumberGenerator()
        let content = compressible
            ? (0..<bytes).map { UInt8(truncatingIfNeeded: $0 / 64) }
            : (0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let path = folder + "/data/" + name
        try Data(content).write(to: URL(fileURLWithPath: path))
        return (path, content, TieringJob.File(fileID: 7, filePath: path, fileSize: Int64(bytes), lastModified: preciseModification(path)!))
    }

    func preciseModification(_ path: String) -> Date? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec / 1000) / 1_000_000)
    }

    func contents(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test func tiersVerifiesStubsAndRecallsByteForByte() async throws {
        let (path, content, file) = try makeFile("report, \"final\" é.pdf", bytes: 3 << 20)
        let allocatedBefore = try StubFile.allocatedBytes(path)
        let result = await tierer().tier(file)
        #expect(result.outcome == .tiered, "\(result.reason ?? "")")
        let location = try #require(result.tieredLocation)
        #expect(location.contains(customer.uuidString.lowercased()))
        #expect(location.contains(RFC3339.format(Date()).prefix(4) + "/"))
        #expect(try ContentHash.ofFile(location) == result.hash)
        #expect(try contents(location) == content)

        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect(attributes[.size] as? Int == content.count)
        #expect(try StubFile.allocatedBytes(path) < allocatedBefore / 10)
        #expect(try StubFile.record(at: path)?.hash == result.hash)
        #expect(preciseModification(path) == file.lastModified)

        let record = try await StubRecall.recall(path: path, stores: OneStore(store: store))
        #expect(record.location == location)
        #expect(try contents(path) == content)
        #expect(try StubFile.record(at: path) == nil)
        #expect(preciseModification(path) == file.lastModified)
    }

    @Test func compressedCopiesAndResidentPreviewsRecallTheSameBytes() async throws {
        let (path, content, file) = try makeFile("table.csv", bytes: 5 << 20, compressible: true)
        let result = await tierer { $0.compress = true; $0.previewBytes = 100 }.tier(file)
        #expect(result.outcome == .tiered, "\(result.reason ?? "")")
        let location = try #require(result.tieredLocation)
        #expect(location.hasSuffix(".zst"))
        #expect(try contents(location).count < content.count / 10)
        let record = try #require(try StubFile.record(at: path))
        #expect(record.residentBytes == 4096)
        #expect(record.compression == "zstd")
        #expect(Array(try contents(path).prefix(4096)) == Array(content.prefix(4096)), "the preview stays readable")
        try await StubRecall.recall(path: path, stores: OneStore(store: store))
        #expect(try contents(path) == content)
    }

    @Test func aFileChangedSinceTheScanIsSkippedAndKept() async throws {
        let (path, content, file) = try makeFile("changing.log", bytes: 64 << 10)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("more".utf8))
        try handle.close()
        let result = await tierer().tier(file)
        #expect(result.outcome == .skipped)
        #expect(try contents(path) == content + Array("more".utf8))
        #expect(try StubFile.record(at: path) == nil)
    }

    @Test func aFileOpenForWritingOrLockedIsSkippedAndKept() async throws {
        let (path, content, file) = try makeFile("open.db", bytes: 64 << 10)
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = ["-c", "exec 3>>\"$0\"; echo ready; exec sleep 30", path]
        let ready = Pipe()
        writer.standardOutput = ready
        try writer.run()
        _ = ready.fileHandleForReading.availableData
        let result = await tierer().tier(file)
        kill(writer.processIdentifier, SIGKILL)
        while writer.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        #expect(result.outcome == .skipped)
        #expect(result.reason?.contains("open for writing") == true)

        let locker = open(path, O_RDONLY)
        #expect(flock(locker, LOCK_EX) == 0)
        let locked = await tierer().tier(file)
        close(locker)
        #expect(locked.outcome == .skipped)
        #expect(locked.reason?.contains("locked") == true)
        #expect(try contents(path) == content)
        #expect(try StubFile.record(at: path) == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/tier2").isEmpty)
    }

    @Test func aRedeliveredJobReportsTheStubItAlreadyMade() async throws {
        let (_, _, file) = try makeFile("twice.bin", bytes: 64 << 10)
        let first = await tierer().tier(file)
        let second = await tierer().tier(file)
        #expect(first.outcome == .tiered)
        #expect(second.outcome == .tiered)
        #expect(second.tieredLocation == first.tieredLocation)
        #expect(second.hash == first.hash)
    }

    @Test func anUnreachableTierDefersTheFileAndKeepsIt() async throws {
        let (path, content, file) = try makeFile("waiting.bin", bytes: 64 << 10)
        let gone = FileTierer(store: FilesystemStore(root: folder + "/unmounted"), target: target, customerID: customer, hostID: host, paths: paths)
        let result = await gone.tier(file)
        #expect(result.outcome == .deferred)
        #expect(try contents(path) == content)
    }

    @Test func aCopyThatDoesNotHashRightIsDiscardedAndTheOriginalKept() async throws {
        let (path, content, file) = try makeFile("ledger.xlsx", bytes: 300 << 10)
        let result = await FileTierer(store: CorruptingStore(inner: store), target: target, customerID: customer, hostID: host, paths: paths).tier(file)
        #expect(result.outcome == .failed)
        #expect(result.reason?.contains("hashing to") == true, "\(result.reason ?? "")")
        #expect(try contents(path) == content)
        #expect(try StubFile.record(at: path) == nil)
        let left = FileManager.default.enumerator(atPath: folder + "/tier2")?.allObjects as? [String] ?? []
        #expect(!left.contains { $0.hasSuffix(".xlsx") }, "the bad copy is deleted")
    }

    @Test func aCorruptedCopyIsNeverWrittenOverTheStub() async throws {
        let (path, _, file) = try makeFile("precious.bin", bytes: 256 << 10)
        let result = await tierer().tier(file)
        let location = try #require(result.tieredLocation)
        let copy = try FileHandle(forWritingTo: URL(fileURLWithPath: location))
        try copy.seek(toOffset: 1000)
        try copy.write(contentsOf: Data([0xFF, 0x00, 0xFF]))
        try copy.close()
        await #expect(throws: TieringError.self) { try await StubRecall.recall(path: path, stores: OneStore(store: store)) }
        #expect(try StubFile.record(at: path) != nil)
        #expect(try StubFile.allocatedBytes(path) < 64 << 10)
    }
}
