import AltoModels
import AltoTestSupport
import AltoTiering
import Foundation
import Testing

/// The SMB store through libsmbclient against a real Samba server (Debian's smbd) on loopback, with `smbclient`,
/// Samba's own client, reading back what Alto wrote.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SMBStoreTests {
    @Test func tiersFilesThatSmbclientReadsBackAndRecalls() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("alto-smb-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let server = try await SambaServer.start(in: work)
        defer { server.stop() }

        let target = StorageTargetReference(id: UUID(), kind: .smb, location: "//127.0.0.1/tier2/tiered",
                                            settings: ["username": "root", "port": "\(server.port)"], secrets: ["password": "secret"])
        let store = try SMBStore(target: target)
        let tierer = FileTierer(store: store, target: target, customerID: UUID(), hostID: UUID(), paths: ConfinedPaths(roots: [work.path]))
        let files = [try TierTestFiles.make(work, "Jahresbericht ü 2019.bin", bytes: 24 << 20), try TierTestFiles.make(work, "notes, draft.txt", bytes: 70 << 10)]
        for (file, content) in files {
            let result = await tierer.tier(file)
            #expect(result.outcome == .tiered, "\(result.reason ?? "")")
            let location = try #require(result.tieredLocation)
            #expect(location.hasPrefix("smb://127.0.0.1:\(server.port)/tier2/tiered/"))
            let path = String(location.dropFirst("smb://127.0.0.1:\(server.port)/tier2/".count))
            let downloaded = work.appendingPathComponent("downloaded").path
            let fetched = try await Command.run("smbclient", ["-p", "\(server.port)", "//127.0.0.1/tier2", "-U", "root%secret",
                                                        "-c", "get \"\(path)\" \"\(downloaded)\""])
            #expect(fetched.status == 0, "\(fetched.errors)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: downloaded)) == content, "smbclient reads back the original bytes")
            let describedAt = work.appendingPathComponent("description.json").path
            let described = try await Command.run("smbclient", ["-p", "\(server.port)", "//127.0.0.1/tier2", "-U", "root%secret",
                                                          "-c", "get \"\(path).alto.json\" \"\(describedAt)\""])
            #expect(described.status == 0, "\(described.errors)")
            let fields = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: describedAt))) as? [String: Any]
            #expect(fields?["hash"] as? String == ContentHash.of(content), "the copy's description, beside it, gives its hash")
            #expect(fields?["original_path"] as? String == file.filePath, "and its original path")
            #expect(try await store.copyDescription(of: location)?.size == Int64(content.count))
        }
        var listed: [TierEntry] = []
        try await store.list(prefix: "") { page in listed += page }
        #expect(Set(listed.map(\.key)).count == 4, "each copy and its description: \(listed.map(\.key))")
        for entry in listed where !entry.key.hasSuffix(CopyDescription.suffix) {
            #expect(entry.location.hasPrefix("smb://127.0.0.1:\(server.port)/tier2/tiered/"), "a listed copy is where a recall reads it")
            #expect(try await store.copyDescription(of: entry.location) != nil)
        }
        for (file, content) in files {
            try await StubRecall.recall(path: file.filePath, stores: TierTestFiles.OneStore(store: store))
            #expect(try Data(contentsOf: URL(fileURLWithPath: file.filePath)) == content)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
