import AltoKeys
import AltoModels
import AltoTiering
import Crypto
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A tree comes back from its tier-2 copies and the tenant's key alone, once the stubs are gone, and nothing
/// written to tier-2 by someone else can make a restore put a file elsewhere or give it more rights.
@Suite struct TreeRestoreTests {
    let tiering: FileTiererTests
    let keys: LocalKeyProvider
    let restored: String

    init() throws {
        tiering = try FileTiererTests()
        keys = LocalKeyProvider(folder: URL(fileURLWithPath: tiering.folder + "/keys"))
        restored = tiering.folder + "/restored"
        try FileManager.default.createDirectory(atPath: restored, withIntermediateDirectories: true)
    }

    /// A file of `bytes` bytes at `relative` below the managed root, with `mode` and times to the nanosecond.
    func makeFile(_ relative: String, bytes: Int, id: Int64, mode: mode_t = 0o640, content: [UInt8]? = nil) throws -> ([UInt8], TieringJob.File) {
        let path = tiering.folder + "/data/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let content = content ?? (0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(id)) }
        try Data(content).write(to: URL(fileURLWithPath: path))
        chmod(path, mode)
        var times = [timespec(tv_sec: 1_600_000_000 + Int(id), tv_nsec: 111_222_333), timespec(tv_sec: 1_500_000_000 + Int(id), tv_nsec: 987_654_321)]
        utimensat(AT_FDCWD, path, &times, 0)
        return (content, TieringJob.File(fileID: id, filePath: path, fileSize: Int64(bytes), lastModified: tiering.preciseModification(path)!))
    }

    func sealedTierer(compress: Bool = false) async throws -> FileTierer {
        let dataKey = try await keys.generateDataKey(tenant: tiering.customer)
        return tiering.tierer {
            $0.compress = compress
            $0.sealing = FileTierer.Sealing(key: dataKey.key, encryption: StubRecord.Encryption(provider: keys.name, wrappedKey: dataKey.wrapped))
        }
    }

    func restore(hostID: UUID? = nil, pathPrefix: String? = nil, trustsUnsealed: Bool = false) async throws -> [TreeRestore.Outcome] {
        let outcomes = Mutex<[TreeRestore.Outcome]>([])
        let keys = self.keys
        let tenant = tiering.customer
        let restore = TreeRestore(store: tiering.store, destination: restored,
                                  selection: .init(customerID: tenant, hostID: hostID, pathPrefix: pathPrefix),
                                  trustsUnsealed: trustsUnsealed) { encryption throws(TieringError) in
            do { return try await keys.unwrapDataKey(encryption.wrappedKey, tenant: tenant) } catch {
                throw TieringError(.hashMismatch, "\(error)")
            }
        }
        try await restore.run { outcome in outcomes.withLock { $0.append(outcome) } }
        return outcomes.withLock { $0 }
    }

    func restoredPath(_ file: TieringJob.File) -> String { restored + file.filePath }

    func status(_ path: String) -> stat {
        var info = stat()
        lstat(path, &info)
        return info
    }

    @Test func aTreeComesBackByteForByteWithItsTimesModeAndOwner() async throws {
        let sealed = try await sealedTierer()
        let sealedCompressed = try await sealedTierer(compress: true)
        let made = [
            try makeFile("projects/2019/Jahresbericht ü, \"final\".pdf", bytes: (2 << 20) + 5, id: 1),
            try makeFile("projects/2019/tables/q1.csv", bytes: 3 << 20, id: 2, mode: 0o600),
            try makeFile("tools/run.sh", bytes: 70_000, id: 3, mode: 0o4750),
        ]
        for (index, (_, file)) in made.enumerated() {
            let result = await (index == 1 ? sealedCompressed : sealed).tier(file)
            #expect(result.outcome == .tiered, "\(result.reason ?? "")")
        }
        var listed: [TierEntry] = []
        try await tiering.store.list(prefix: tiering.customer.uuidString.lowercased() + "/") { listed += $0 }
        #expect(listed.filter { $0.key.hasSuffix(CopyDescription.suffix) }.count == 3, "each copy has its description beside it")
        #expect(listed.count == 6)

        // The disaster: every stub is gone, and nothing but tier-2 and the tenant's key is left.
        try FileManager.default.removeItem(atPath: tiering.folder + "/data")
        let outcomes = try await restore()
        #expect(outcomes.count == 3 && outcomes.allSatisfy { if case .restored = $0 { true } else { false } }, "\(outcomes)")
        for (content, file) in made {
            let path = restoredPath(file)
            let info = status(path)
            #expect(info.st_mode & 0o7777 == (file.fileID == 2 ? 0o600 : file.fileID == 3 ? 0o4750 : 0o640),
                    "a sealed copy's authenticated description restores its mode, set-user-ID bit included")
            #expect(info.st_mtim.tv_sec == 1_500_000_000 + Int(file.fileID) && info.st_mtim.tv_nsec == 987_654_321)
            #expect(info.st_atim.tv_sec == 1_600_000_000 + Int(file.fileID) && info.st_atim.tv_nsec == 111_222_333)
            #expect(info.st_uid == geteuid())
            // Read after the times are checked: a read may move the access time.
            #expect(try tiering.contents(path) == content, "\(file.filePath) comes back byte for byte")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: (restoredPath(made[0].1) as NSString).deletingLastPathComponent).allSatisfy { !$0.hasPrefix(".alto-restore-") },
                "no temporary file is left")

        let again = try await restore()
        #expect(again.allSatisfy { if case .skipped(_, let reason) = $0 { reason.contains("restored already") } else { false } },
                "a second restore leaves what the first wrote: \(again)")
    }

    @Test func aSelectionRestoresOneHostOrOneFolder() async throws {
        let sealed = try await sealedTierer()
        let made = [try makeFile("keep/a.bin", bytes: 9000, id: 11), try makeFile("other/b.bin", bytes: 9000, id: 12)]
        for (_, file) in made { #expect(await sealed.tier(file).outcome == .tiered) }
        #expect(try await restore(hostID: UUID()).isEmpty, "another host's selection restores nothing")
        let folder = try await restore(pathPrefix: tiering.folder + "/data/keep")
        #expect(folder.count == 1)
        #expect(FileManager.default.fileExists(atPath: restoredPath(made[0].1)))
        #expect(!FileManager.default.fileExists(atPath: restoredPath(made[1].1)))
    }

    @Test func aChangedDescriptionOfASealedCopyIsRefused() async throws {
        let (_, file) = try makeFile("payroll.xlsx", bytes: 50_000, id: 21)
        let result = try await sealedTierer().tier(file)
        let location = try #require(result.tieredLocation)
        var description = try #require(try await tiering.store.copyDescription(of: location))
        description.originalPath = "/etc/cron.d/payroll"
        description.mode = 0o4777
        try Data(description.encoded()).write(to: URL(fileURLWithPath: CopyDescription.location(describing: location)))

        let outcomes = try await restore()
        #expect(outcomes.count == 1)
        guard case .failed(_, let reason) = outcomes.first else { Issue.record("\(outcomes)"); return }
        #expect(reason.contains("does not authenticate"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: restored).isEmpty, "nothing is written")
    }

    @Test func aCopyInTheClearComesBackWithoutSetIDBitsAndNeverOutsideTheFolder() async throws {
        let (content, file) = try makeFile("bin/tool", bytes: 20_000, id: 31, mode: 0o6755)
        let result = await tiering.tierer().tier(file)
        #expect(result.outcome == .tiered, "\(result.reason ?? "")")
        var outcomes = try await restore()
        guard case .failed(_, let refusal) = outcomes.first else { Issue.record("\(outcomes)"); return }
        #expect(refusal.contains("in the clear"), "a description nothing vouches for is not followed unless asked")
        outcomes = try await restore(trustsUnsealed: true)
        #expect(try tiering.contents(restoredPath(file)) == content)
        #expect(status(restoredPath(file)).st_mode & 0o7777 == 0o755, "an unauthenticated description cannot grant set-ID bits")

        // Someone who writes to tier-2 points the description elsewhere: it is refused, not followed.
        let location = try #require(result.tieredLocation)
        var description = try #require(try await tiering.store.copyDescription(of: location))
        description.originalPath = "/srv/../../escaped"
        try Data(description.encoded()).write(to: URL(fileURLWithPath: CopyDescription.location(describing: location)))
        outcomes = try await restore(trustsUnsealed: true)
        guard case .failed(_, let reason) = outcomes.first else { Issue.record("\(outcomes)"); return }
        #expect(reason.contains(".."))
        #expect(!FileManager.default.fileExists(atPath: tiering.folder + "/escaped"))

        // A symbolic link already in the folder is not followed either.
        description.originalPath = "/link/planted"
        try Data(description.encoded()).write(to: URL(fileURLWithPath: CopyDescription.location(describing: location)))
        try FileManager.default.createSymbolicLink(atPath: restored + "/link", withDestinationPath: tiering.folder + "/data")
        outcomes = try await restore(trustsUnsealed: true)
        guard case .failed(_, let linked) = outcomes.first else { Issue.record("\(outcomes)"); return }
        #expect(linked.contains("symbolic link"))
        #expect(!FileManager.default.fileExists(atPath: tiering.folder + "/data/planted"))

        // A NUL hidden in the encoding (`..%00`) is no way out either.
        description.originalPath = "/..%00/..%00/escaped-too"
        try Data(description.encoded()).write(to: URL(fileURLWithPath: CopyDescription.location(describing: location)))
        outcomes = try await restore(trustsUnsealed: true)
        guard case .failed(_, let hidden) = outcomes.first else { Issue.record("\(outcomes)"); return }
        #expect(hidden.contains("NUL"))
        #expect(!FileManager.default.fileExists(atPath: tiering.folder + "/escaped-too"))
    }

    @Test func theNewestCopyOfAPathWinsAndAFileNoRestoreWroteIsKept() async throws {
        let (_, older) = try makeFile("notes.txt", bytes: 10_000, id: 41)
        #expect(await tiering.tierer().tier(older, now: Date(timeIntervalSince1970: 1_760_000_000)).outcome == .tiered)
        try await StubRecall.recall(path: older.filePath, stores: OneStore(store: tiering.store))
        let (newContent, newer) = try makeFile("notes.txt", bytes: 12_000, id: 41, content: Array(repeating: 0x42, count: 12_000))
        #expect(await tiering.tierer().tier(newer, now: Date(timeIntervalSince1970: 1_770_000_000)).outcome == .tiered)

        _ = try await restore(trustsUnsealed: true)
        #expect(try tiering.contents(restoredPath(newer)) == newContent, "of two copies of one path, the newer one is restored")

        let foreign = restored + tiering.folder + "/data/foreign.txt"
        let (_, file) = try makeFile("foreign.txt", bytes: 5000, id: 42)
        #expect(await tiering.tierer().tier(file).outcome == .tiered)
        try Data("the admin's own".utf8).write(to: URL(fileURLWithPath: foreign))
        let outcomes = try await restore(trustsUnsealed: true)
        #expect(outcomes.contains { if case .skipped(_, let reason) = $0 { reason.contains("no restore wrote") } else { false } })
        #expect(try String(contentsOfFile: foreign, encoding: .utf8) == "the admin's own")
    }
}
