import AltoKeys
import AltoModels
import AltoTiering
import CAltoLinux
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A tier that hands back more than it was given, as a damaged or swapped copy would.
struct LengtheningStore: TierStore {
    let inner: FilesystemStore

    func store(_ source: TierSource, as object: TierObject) async throws(TieringError) -> StoredCopy {
        try await inner.store(source, as: object)
    }

    func retrieve(_ location: String, into sink: any TierSink) async throws(TieringError) {
        try await inner.retrieve(location, into: sink)
        let extra = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
        defer { extra.deallocate() }
        extra.initializeMemory(as: UInt8.self, repeating: 0x41)
        try sink.receive(UnsafeRawBufferPointer(extra))
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

/// Takes what a store sends and keeps nothing.
final class DiscardingSink: TierSink {
    func receive(_ bytes: UnsafeRawBufferPointer) throws(TieringError) {}
}

/// What the root agent believes about a file and where it goes for it: only records a user cannot write, only
/// paths below the managed roots reached without links or other mounts, only copies below their target, never
/// a byte past the record's size, never a key made on a read.
@Suite struct StubTrustTests {
    let tiering = try! FileTiererTests()

    @Test func aRecordInAUserAttributeIsAForgeryAndADamagedOneIsNoStub() throws {
        let (path, _, _) = try tiering.makeFile("forged.bin", bytes: 8192)
        let descriptor = open(path, O_RDONLY)
        defer { close(descriptor) }
        #expect(StubFile.inspect(descriptor: descriptor) == .ordinary)
        let record = Array(#"{"version":1,"location":"/etc/shadow","hash":"sha256:00","size":8192,"tiered_at":"2020-01-01T00:00:00Z"}"#.utf8)
        #expect(alto_fsetxattr(descriptor, StubRecord.forgeableAttributeName, record, record.count) == 0)
        #expect(StubFile.inspect(descriptor: descriptor) == .forged)
        #expect(throws: TieringError.self) { try StubFile.record(descriptor: descriptor, path: path) }
        #expect(alto_fsetxattr(descriptor, StubRecord.attributeName, record, record.count) == 0)
        guard case .damaged(let problem) = StubFile.inspect(descriptor: descriptor) else {
            Issue.record("a record without a real hash is damaged")
            return
        }
        #expect(problem.contains("sha256"), "\(problem)")
    }

    @Test func jobPathsStayBelowTheManagedRootsWithoutLinks() throws {
        let root = tiering.folder + "/data"
        let outside = tiering.folder + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try Data("secret".utf8).write(to: URL(fileURLWithPath: outside + "/secret.txt"))
        try FileManager.default.createSymbolicLink(atPath: root + "/projects", withDestinationPath: outside)
        let paths = ConfinedPaths(roots: [root + "/"])
        for path in [root + "/projects/secret.txt", root + "/../outside/secret.txt", outside + "/secret.txt", root + "/a%00b"] {
            #expect(throws: TieringError.self, "\(path) is refused") { close(try paths.open(path, flags: O_RDONLY)) }
        }
        let latin1 = Array(root.utf8) + Array("/caf".utf8) + [0xE9]
        let created = (latin1 + [0]).withUnsafeBufferPointer { name in
            name.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600) }
        }
        #expect(created >= 0)
        close(created)
        let opened = try paths.open(PathEncoding.encode(latin1), flags: O_RDONLY)
        #expect(opened >= 0, "a name that is not UTF-8 opens by its inventory spelling")
        close(opened)
    }

    @Test func aRecallNeverWritesPastTheRecordsSize() async throws {
        let (path, _, file) = try tiering.makeFile("exact.bin", bytes: 256 << 10)
        #expect(await tiering.tierer().tier(file).outcome == .tiered)
        await #expect(throws: TieringError.self) {
            try await StubRecall.recall(path: path, stores: OneStore(store: LengtheningStore(inner: tiering.store)))
        }
        #expect(try StubFile.record(at: path) != nil, "still a stub")
        #expect((try FileManager.default.attributesOfItem(atPath: path))[.size] as? Int == 256 << 10)
    }

    @Test func aCopyOutsideItsTargetIsNeverRead() async throws {
        try Data("root only".utf8).write(to: URL(fileURLWithPath: tiering.folder + "/token"))
        let sink = DiscardingSink()
        await #expect(throws: TieringError.self) { try await tiering.store.retrieve(tiering.folder + "/token", into: sink) }
        await #expect(throws: TieringError.self) { try await tiering.store.retrieve(tiering.folder + "/tier2/../token", into: sink) }
    }

    @Test func aMissingKeyringIsAnErrorAndNoNewKey() async throws {
        let folder = URL(fileURLWithPath: tiering.folder + "/keys")
        let keys = LocalKeyProvider(folder: folder)
        let wrapped = try await keys.generateDataKey(tenant: tiering.customer).wrapped
        try FileManager.default.removeItem(at: folder)
        await #expect(throws: KeyError.self) { _ = try await keys.unwrapDataKey(wrapped, tenant: tiering.customer) }
        #expect(!FileManager.default.fileExists(atPath: folder.path), "a read made no keyring")
        #expect(throws: KeyError.self) { _ = try KeyProviders.make(environment: ["ALTO_KEY_DIR": "relative/keys"]) }

        let kept = LocalKeyProvider(folder: URL(fileURLWithPath: tiering.folder + "/kept"))
        _ = try await kept.generateDataKey(tenant: tiering.customer)
        try FileManager.default.removeItem(atPath: tiering.folder + "/kept/master.key")
        await #expect(throws: KeyError.self, "a lost master key is not replaced while tenant keys need it") {
            _ = try await kept.generateDataKey(tenant: UUID())
        }
        #expect(!FileManager.default.fileExists(atPath: tiering.folder + "/kept/master.key"))
    }
}
