import AltoKeys
import AltoModels
import AltoTiering
import Crypto
import Foundation
import Testing

/// The stores a tenant's agent uses, with the tenant's key provider to open encrypted copies.
struct KeyedStore: TierStoreProvider {
    let store: any TierStore
    let keys: any KeyProvider
    let tenant: UUID

    func store(for record: StubRecord) throws(TieringError) -> any TierStore { store }

    func dataKey(for encryption: StubRecord.Encryption) async throws(TieringError) -> SymmetricKey {
        do { return try await keys.unwrapDataKey(encryption.wrappedKey, tenant: tenant) } catch {
            throw TieringError(.hashMismatch, "\(error)")
        }
    }
}

/// Copies sealed with a tenant's data key: unreadable without that tenant's key, still open after the key is
/// rotated and the data keys rewrapped, and a changed byte is caught before anything is written into the stub.
@Suite struct EncryptedCopyTests {
    let tiering: FileTiererTests
    let keys: LocalKeyProvider
    let tenant: UUID
    let otherTenant = UUID()

    init() throws {
        tiering = try FileTiererTests()
        tenant = tiering.customer
        keys = LocalKeyProvider(folder: URL(fileURLWithPath: tiering.folder + "/keys"))
    }

    func sealedTierer(compress: Bool = false) async throws -> FileTierer {
        let dataKey = try await keys.generateDataKey(tenant: tenant)
        return tiering.tierer {
            $0.compress = compress
            $0.sealing = FileTierer.Sealing(key: dataKey.key, encryption: StubRecord.Encryption(provider: keys.name, wrappedKey: dataKey.wrapped))
        }
    }

    @Test(arguments: [false, true]) func aSealedCopyHidesTheContentAndRecallsByteForByte(compress: Bool) async throws {
        let (path, content, file) = try tiering.makeFile("ledger \(compress).csv", bytes: (3 << 20) + 17, compressible: compress)
        let result = try await sealedTierer(compress: compress).tier(file)
        #expect(result.outcome == .tiered, "\(result.reason ?? "")")
        let location = try #require(result.tieredLocation)
        let copy = try tiering.contents(location)
        #expect(Array(copy.prefix(8)) == Array("ALTOGCM1".utf8))
        #expect(Data(copy).range(of: Data(content[4096..<4160])) == nil, "no run of the content appears in the copy")
        let record = try #require(try StubFile.record(at: path))
        #expect(record.encryption?.wrappedKey == result.wrappedKey)
        #expect(result.wrappedKey?.hasPrefix("alto:v1:") == true)

        try await StubRecall.recall(path: path, stores: KeyedStore(store: tiering.store, keys: keys, tenant: tenant))
        #expect(try tiering.contents(path) == content)
    }

    @Test func anotherTenantsKeyOpensNothing() async throws {
        let (path, _, file) = try tiering.makeFile("salaries.xlsx", bytes: 1 << 20)
        let result = try await sealedTierer().tier(file)
        let wrapped = try #require(result.wrappedKey)
        _ = try await keys.generateDataKey(tenant: otherTenant)
        await #expect(throws: KeyError.self) { _ = try await keys.unwrapDataKey(wrapped, tenant: otherTenant) }
        await #expect(throws: TieringError.self) {
            try await StubRecall.recall(path: path, stores: KeyedStore(store: tiering.store, keys: keys, tenant: otherTenant))
        }
        #expect(try StubFile.record(at: path) != nil, "still a stub")
        // Nor does a data key made for the other tenant open this copy.
        let foreign = try await keys.generateDataKey(tenant: otherTenant)
        #expect(throws: TieringError.self) { try SealedStream.open(try tiering.contents(#require(result.tieredLocation)), key: foreign.key) }
        // A keyring folder without this tenant's keys (another machine's) knows nothing of them.
        let stranger = LocalKeyProvider(folder: URL(fileURLWithPath: tiering.folder + "/elsewhere"))
        await #expect(throws: KeyError.self) { _ = try await stranger.unwrapDataKey(wrapped, tenant: tenant) }
    }

    @Test func afterRotationTheRewrappedAndTheOldWrappedKeyBothOpenTheCopy() async throws {
        let (path, content, file) = try tiering.makeFile("archive.tar", bytes: 2 << 20)
        let result = try await sealedTierer().tier(file)
        let wrapped = try #require(result.wrappedKey)
        let location = try #require(result.tieredLocation)
        let copyBefore = try tiering.contents(location)
        #expect(try await keys.rotate(tenant: tenant) == 2)
        let rewrapped = try await keys.rewrap(wrapped, tenant: tenant)
        #expect(rewrapped.hasPrefix("alto:v2:") && rewrapped != wrapped)
        let oldKey = try await keys.unwrapDataKey(wrapped, tenant: tenant)
        let newKey = try await keys.unwrapDataKey(rewrapped, tenant: tenant)
        #expect(oldKey == newKey, "rewrapping changes the wrapping, not the data key")
        #expect(try tiering.contents(location) == copyBefore, "the copy is not rewritten")
        #expect(try SealedStream.open(copyBefore, key: newKey).count == content.count)
        try await StubRecall.recall(path: path, stores: KeyedStore(store: tiering.store, keys: keys, tenant: tenant))
        #expect(try tiering.contents(path) == content)
        let fresh = try await keys.generateDataKey(tenant: tenant)
        #expect(fresh.wrapped.hasPrefix("alto:v2:"), "new data keys are wrapped with the new version")
    }

    @Test(arguments: [20, (1 << 20) + 40, -3]) func aFlippedByteIsCaughtAndTheStubIsNotWrittenOut(offset: Int) async throws {
        let (path, _, file) = try tiering.makeFile("precious-\(offset).bin", bytes: 3 << 20)
        let result = try await sealedTierer().tier(file)
        let location = try #require(result.tieredLocation)
        var copy = try tiering.contents(location)
        let at = offset < 0 ? copy.count + offset : offset
        copy[at] ^= 0x01
        try Data(copy).write(to: URL(fileURLWithPath: location))
        let error = await #expect(throws: TieringError.self) {
            try await StubRecall.recall(path: path, stores: KeyedStore(store: tiering.store, keys: keys, tenant: tenant))
        }
        #expect(error?.code == .hashMismatch, "\(String(describing: error))")
        #expect(try StubFile.record(at: path) != nil, "still a stub")
        #expect(try StubFile.allocatedBytes(path) < 64 << 10, "no recalled bytes were left in the file")
    }

    @Test func aSealedCopyDamagedOnTheWayIsDiscardedAndTheOriginalKept() async throws {
        let (path, content, file) = try tiering.makeFile("damaged on the way.bin", bytes: 1 << 20)
        let dataKey = try await keys.generateDataKey(tenant: tenant)
        var options = FileTierer.Options()
        options.sealing = FileTierer.Sealing(key: dataKey.key, encryption: StubRecord.Encryption(provider: keys.name, wrappedKey: dataKey.wrapped))
        let result = await FileTierer(store: CorruptingStore(inner: tiering.store), target: tiering.target, customerID: tenant,
                                      hostID: tiering.host, paths: tiering.paths, options: options).tier(file)
        #expect(result.outcome == .failed)
        #expect(try StubFile.record(at: path) == nil)
        #expect(try tiering.contents(path) == content)
    }

    @Test func aTruncatedCopyDoesNotOpen() async throws {
        let (_, _, file) = try tiering.makeFile("cut.bin", bytes: 1 << 20)
        let result = try await sealedTierer().tier(file)
        let copy = try tiering.contents(try #require(result.tieredLocation))
        let key = try await keys.unwrapDataKey(try #require(result.wrappedKey), tenant: tenant)
        #expect(try SealedStream.open(copy, key: key).count == 1 << 20)
        #expect(throws: TieringError.self) { try SealedStream.open(Array(copy.dropLast(21)), key: key) }
    }
}
