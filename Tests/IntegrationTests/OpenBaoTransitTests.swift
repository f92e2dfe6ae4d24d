import AltoKeys
import AltoModels
import AltoTestSupport
import AltoTiering
import Crypto
import Foundation
import Testing

/// The Vault Transit provider against a real OpenBao server (dev mode, on loopback), with the least-privilege
/// tokens the README documents: the central services' policy, one tenant's agent policy, a namespace, a sealed
/// server. What a real server never answers (malformed answers, a server that hangs) is in `VaultTransitTests`.
@Suite(.timeLimit(.minutes(3))) struct OpenBaoTransitTests {
    func withOpenBao(_ body: (OpenBaoServer) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("alto-openbao-\(UUID().uuidString)")
        let server = try await OpenBaoServer(logFolder: folder)
        defer {
            server.stop()
            try? FileManager.default.removeItem(at: folder)
        }
        try await body(server)
    }

    @Test func dataKeysSecretsRotationAndRewrapWithTheServicesPolicy() async throws {
        try await withOpenBao { bao in
            let token = try await bao.token(policy: OpenBaoServer.servicePolicy, name: "alto-services")
            let vault = VaultTransitProvider(address: bao.address, token: token)
            let (tenant, other) = (UUID(), UUID())
            let dataKey = try await vault.generateDataKey(tenant: tenant)
            #expect(dataKey.wrapped.hasPrefix("vault:v1:"))
            #expect(try await vault.unwrapDataKey(dataKey.wrapped, tenant: tenant) == dataKey.key)

            let secret = try await vault.encrypt(Array("s3cr3t access key".utf8), tenant: tenant)
            #expect(secret.hasPrefix("vault:v1:"))
            #expect(try await vault.decrypt(secret, tenant: tenant) == Array("s3cr3t access key".utf8))

            #expect(try await vault.rotate(tenant: tenant) == 2)
            let rewrapped = try await vault.rewrap(dataKey.wrapped, tenant: tenant)
            #expect(rewrapped.hasPrefix("vault:v2:"))
            #expect(try await vault.unwrapDataKey(rewrapped, tenant: tenant) == dataKey.key)
            #expect(try await vault.unwrapDataKey(dataKey.wrapped, tenant: tenant) == dataKey.key, "old versions still decrypt")
            #expect(try await vault.generateDataKey(tenant: tenant).wrapped.hasPrefix("vault:v2:"))

            // The tenant's key is made as Alto asks: AES-256-GCM, never exportable, never deletable through Transit.
            let key = try await bao.request("GET", "transit/keys/alto-\(tenant.uuidString.lowercased())", nil)["data"] as? [String: Any]
            #expect(key?["type"] as? String == "aes256-gcm96")
            #expect(key?["exportable"] as? Bool == false && key?["deletion_allowed"] as? Bool == false)

            // Another tenant's key opens nothing of this tenant's: OpenBao fails to authenticate the ciphertext.
            _ = try await vault.generateDataKey(tenant: other)
            let foreign = await #expect(throws: KeyError.self) { _ = try await vault.decrypt(secret, tenant: other) }
            #expect(foreign?.code == .refused)
            let outside = VaultTransitProvider(address: bao.address, token: token, keyPrefix: "other-")
            let denied = await #expect(throws: KeyError.self) { _ = try await outside.generateDataKey(tenant: tenant) }
            #expect(denied?.message.contains("permission denied") == true, "the policy covers alto- keys only: \(denied?.message ?? "")")
        }
    }

    @Test func theREADMEGivesThePoliciesTheseTestsHold() throws {
        let readme = try String(contentsOf: TestServers.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let tenant = UUID()
        let policies = OpenBaoServer.servicePolicy + "\n"
            + OpenBaoServer.agentPolicy(tenant: tenant).replacingOccurrences(of: tenant.uuidString.lowercased(), with: "<id>")
        for line in policies.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            #expect(readme.contains(line), "the README's policies have \(line)")
        }
    }

    @Test func anAgentsTokenOpensItsOwnTenantsKeyAndNoOther() async throws {
        try await withOpenBao { bao in
            let (tenant, other) = (UUID(), UUID())
            let services = VaultTransitProvider(address: bao.address, token: try await bao.token(policy: OpenBaoServer.servicePolicy, name: "alto-services"))
            let agent = VaultTransitProvider(address: bao.address, token: try await bao.token(policy: OpenBaoServer.agentPolicy(tenant: tenant), name: "alto-agent"))
            let own = try await agent.generateDataKey(tenant: tenant)
            #expect(try await agent.unwrapDataKey(own.wrapped, tenant: tenant) == own.key)
            #expect(try await services.unwrapDataKey(own.wrapped, tenant: tenant) == own.key, "the services open the agent's copies' keys")

            let othersKey = try await services.generateDataKey(tenant: other)
            for attempt in [{ _ = try await agent.unwrapDataKey(othersKey.wrapped, tenant: other) },
                            { _ = try await agent.generateDataKey(tenant: other) },
                            { _ = try await agent.rotate(tenant: tenant) }] as [@Sendable () async throws -> Void] {
                let refused = await #expect(throws: KeyError.self) { try await attempt() }
                #expect(refused?.code == .refused)
                #expect(refused?.message.contains("permission denied") == true, "\(refused?.message ?? "")")
            }
        }
    }

    @Test func aNamespacesKeysAreItsOwn() async throws {
        try await withOpenBao { bao in
            try await bao.createNamespace("provider-acme")
            try await bao.mountTransit(namespace: "provider-acme")
            let tenant = UUID()
            let namespaced = VaultTransitProvider(address: bao.address, token: bao.rootToken, namespace: "provider-acme")
            let dataKey = try await namespaced.generateDataKey(tenant: tenant)
            #expect(try await namespaced.unwrapDataKey(dataKey.wrapped, tenant: tenant) == dataKey.key)

            let root = VaultTransitProvider(address: bao.address, token: bao.rootToken)
            let elsewhere = await #expect(throws: KeyError.self) { _ = try await root.unwrapDataKey(dataKey.wrapped, tenant: tenant) }
            #expect(elsewhere?.code == .refused, "the root namespace has no such key")
            await #expect(throws: (any Error).self) {
                _ = try await bao.request("GET", "transit/keys/alto-\(tenant.uuidString.lowercased())", nil)
            }
        }
    }

    @Test func aSealedServerIsUnavailableAndAWrongTokenRefused() async throws {
        try await withOpenBao { bao in
            let tenant = UUID()
            let guessed = VaultTransitProvider(address: bao.address, token: "guessed-token")
            let refused = await #expect(throws: KeyError.self) { _ = try await guessed.generateDataKey(tenant: tenant) }
            #expect(refused?.code == .refused)
            #expect(refused?.message.contains("guessed-token") == false, "no token in an error")

            let vault = VaultTransitProvider(address: bao.address, token: bao.rootToken)
            let dataKey = try await vault.generateDataKey(tenant: tenant)
            try await bao.seal()
            let sealed = await #expect(throws: KeyError.self) { _ = try await vault.unwrapDataKey(dataKey.wrapped, tenant: tenant) }
            #expect(sealed?.code == .unavailable, "a sealed server is waited for, not a refusal: \(sealed?.message ?? "")")
            #expect(sealed?.message.contains("sealed") == true)
        }
    }

    @Test func aCopySealedWithAnOpenBaoDataKeyRecalls() async throws {
        try await withOpenBao { bao in
            let tenant = UUID()
            let agent = VaultTransitProvider(address: bao.address, token: try await bao.token(policy: OpenBaoServer.agentPolicy(tenant: tenant), name: "alto-agent"))
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("alto-openbao-tier-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: folder) }
            try FileManager.default.createDirectory(atPath: folder + "/tier2", withIntermediateDirectories: true)
            let content = (0..<(3 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
            let path = folder + "/quarterly.xlsx"
            try Data(content).write(to: URL(fileURLWithPath: path))
            var info = stat()
            stat(path, &info)
            let modified = Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec / 1000) / 1_000_000)

            let dataKey = try await agent.generateDataKey(tenant: tenant)
            var options = FileTierer.Options()
            options.sealing = FileTierer.Sealing(key: dataKey.key, encryption: StubRecord.Encryption(provider: agent.name, wrappedKey: dataKey.wrapped))
            let store = FilesystemStore(root: folder + "/tier2")
            let tierer = FileTierer(store: store, target: StorageTargetReference(id: UUID(), kind: .filesystem, location: folder + "/tier2"),
                                    customerID: tenant, hostID: UUID(), paths: ConfinedPaths(roots: [folder]), options: options)
            let result = await tierer.tier(TieringJob.File(fileID: 1, filePath: path, fileSize: Int64(content.count), lastModified: modified))
            #expect(result.outcome == .tiered, "\(result.reason ?? "")")
            let record = try #require(try StubFile.record(at: path))
            #expect(record.encryption?.provider == "vault" && record.encryption?.wrappedKey.hasPrefix("vault:v1:") == true)

            // The tenant's key rotates meanwhile; the copy's data key was wrapped by version 1, which still decrypts.
            let services = VaultTransitProvider(address: bao.address, token: try await bao.token(policy: OpenBaoServer.servicePolicy, name: "alto-services"))
            #expect(try await services.rotate(tenant: tenant) == 2)
            try await StubRecall.recall(path: path, stores: VaultStores(store: store, vault: agent, tenant: tenant))
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == content)
            #expect(try StubFile.record(at: path) == nil)
        }
    }
}

/// A filesystem tier whose copies' keys Vault unwraps.
struct VaultStores: TierStoreProvider {
    let store: FilesystemStore
    let vault: VaultTransitProvider
    let tenant: UUID

    func store(for record: StubRecord) throws(TieringError) -> any TierStore { store }

    func dataKey(for encryption: StubRecord.Encryption) async throws(TieringError) -> SymmetricKey {
        do { return try await vault.unwrapDataKey(encryption.wrappedKey, tenant: tenant) } catch {
            throw TieringError(.storageUnavailable, "\(error)")
        }
    }
}
