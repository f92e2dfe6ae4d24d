import AltoKeys
import AltoModels
import AltoTestSupport
import AltoTiering
import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// Vault's Transit engine through its HTTP API. No Vault server can be installed here (it is not in Debian or on
/// PyPI), so the client is checked against a stand-in that follows Vault's documented requests and answers for the
/// endpoints Alto uses (keys, datakey/plaintext, encrypt, decrypt, rotate, rewrap; `vault:v<n>:` ciphertexts,
/// `{"data": ...}` answers, `{"errors": [...]}` refusals, `X-Vault-Token` and `X-Vault-Namespace` headers), with
/// real AES-GCM from Python's cryptography package behind it.
@Suite(.timeLimit(.minutes(3))) struct VaultTransitTests {
    static let token = "test-root-token"

    static let standIn = #"""
import base64, json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

keys = {}      # name -> [key bytes per version]
seen = []      # (method, path, namespace)

class Transit(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args): pass

    def answer(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, status, message):
        self.answer(status, {"errors": [message]})

    def seal(self, name, plaintext):
        version = len(keys[name])
        nonce = os.urandom(12)
        sealed = AESGCM(keys[name][-1]).encrypt(nonce, plaintext, None)
        return "vault:v%d:%s" % (version, base64.b64encode(nonce + sealed).decode()), version

    def open(self, name, ciphertext):
        prefix, version, body = ciphertext.split(":", 2)
        raw = base64.b64decode(body)
        return AESGCM(keys[name][int(version[1:]) - 1]).decrypt(raw[:12], raw[12:], None)

    def handle_any(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        seen.append((method, self.path, self.headers.get("X-Vault-Namespace")))
        if self.path == "/_seen":
            return self.answer(200, {"data": {"requests": seen}})
        if self.headers.get("X-Vault-Token") != "test-root-token":
            return self.refuse(403, "permission denied")
        parts = self.path.strip("/").split("/")
        if parts[:2] != ["v1", "transit"]:
            return self.refuse(404, "no handler for route")
        op, rest = parts[2], parts[3:]
        if op == "keys" and len(rest) == 1 and method == "POST":
            keys.setdefault(rest[0], [AESGCM.generate_key(bit_length=256)])
            return self.answer(204)
        if op == "keys" and len(rest) == 1 and method == "GET":
            if rest[0] not in keys: return self.refuse(404, "key not found")
            return self.answer(200, {"data": {"name": rest[0], "type": "aes256-gcm96", "latest_version": len(keys[rest[0]])}})
        if op == "keys" and len(rest) == 2 and rest[1] == "rotate":
            keys[rest[0]].append(AESGCM.generate_key(bit_length=256))
            return self.answer(200, {"data": {"name": rest[0], "latest_version": len(keys[rest[0]])}})
        name = rest[-1]
        if name not in keys:
            return self.refuse(400, "encryption key not found")
        try:
            if op == "encrypt":
                ciphertext, version = self.seal(name, base64.b64decode(body["plaintext"]))
                return self.answer(200, {"data": {"ciphertext": ciphertext, "key_version": version}})
            if op == "decrypt":
                return self.answer(200, {"data": {"plaintext": base64.b64encode(self.open(name, body["ciphertext"])).decode()}})
            if op == "datakey" and rest[0] == "plaintext":
                key = os.urandom(body.get("bits", 256) // 8)
                ciphertext, version = self.seal(name, key)
                return self.answer(200, {"data": {"plaintext": base64.b64encode(key).decode(), "ciphertext": ciphertext, "key_version": version}})
            if op == "rewrap":
                ciphertext, version = self.seal(name, self.open(name, body["ciphertext"]))
                return self.answer(200, {"data": {"ciphertext": ciphertext, "key_version": version}})
        except Exception as error:
            return self.refuse(400, "invalid ciphertext: %s" % error)
        return self.refuse(404, "unsupported path")

    def do_GET(self): self.handle_any("GET")
    def do_POST(self): self.handle_any("POST")

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Transit).serve_forever()
"""#

    func withTransit(_ body: (String) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("alto-vault-\(UUID().uuidString)")
        let server = try await PeerServer(["python3", "-c", Self.standIn, "{port}"], name: "transit", logFolder: folder)
        defer { server.stop() }
        try await body("http://127.0.0.1:\(server.port)")
    }

    @Test func dataKeysSecretsRotationAndRewrapThroughTheTransitAPI() async throws {
        try await withTransit { address in
            let vault = VaultTransitProvider(address: address, token: Self.token, namespace: "providers/acme")
            let (tenant, other) = (UUID(), UUID())
            let dataKey = try await vault.generateDataKey(tenant: tenant)
            #expect(dataKey.wrapped.hasPrefix("vault:v1:"))
            let unwrapped = try await vault.unwrapDataKey(dataKey.wrapped, tenant: tenant)
            #expect(unwrapped == dataKey.key)

            let secret = try await vault.encrypt(Array("s3cr3t access key".utf8), tenant: tenant)
            #expect(secret.hasPrefix("vault:v1:"))
            #expect(try await vault.decrypt(secret, tenant: tenant) == Array("s3cr3t access key".utf8))

            #expect(try await vault.rotate(tenant: tenant) == 2)
            let rewrapped = try await vault.rewrap(dataKey.wrapped, tenant: tenant)
            #expect(rewrapped.hasPrefix("vault:v2:"))
            #expect(try await vault.unwrapDataKey(rewrapped, tenant: tenant) == dataKey.key)
            #expect(try await vault.unwrapDataKey(dataKey.wrapped, tenant: tenant) == dataKey.key, "old versions still decrypt")
            #expect(try await vault.generateDataKey(tenant: tenant).wrapped.hasPrefix("vault:v2:"))

            // Another tenant's key (another named key in Transit) opens nothing of this tenant's.
            _ = try await vault.generateDataKey(tenant: other)
            await #expect(throws: KeyError.self) { _ = try await vault.decrypt(secret, tenant: other) }

            let (seenData, _) = try await URLSession.shared.data(from: URL(string: address + "/_seen")!)
            let seen = (try JSONSerialization.jsonObject(with: seenData) as? [String: Any])?["data"] as? [String: Any]
            let requests = (seen?["requests"] as? [[Any]]) ?? []
            let paths = requests.compactMap { $0[1] as? String }.filter { $0.hasPrefix("/v1/") }
            #expect(paths.contains("/v1/transit/datakey/plaintext/alto-\(tenant.uuidString.lowercased())"))
            #expect(paths.contains("/v1/transit/keys/alto-\(tenant.uuidString.lowercased())/rotate"))
            #expect(paths.contains("/v1/transit/rewrap/alto-\(tenant.uuidString.lowercased())"))
            #expect(requests.filter { ($0[1] as? String)?.hasPrefix("/v1/") == true }.allSatisfy { $0[2] as? String == "providers/acme" })
        }
    }

    @Test func refusalsAndAnUnreachableVaultAreTold() async throws {
        try await withTransit { address in
            let wrongToken = VaultTransitProvider(address: address, token: "guessed")
            let refused = await #expect(throws: KeyError.self) { _ = try await wrongToken.generateDataKey(tenant: UUID()) }
            #expect(refused?.code == .refused)
            #expect(refused?.message.contains("permission denied") == true)
            #expect(refused?.message.contains("guessed") == false, "no token in an error")
        }
        let gone = VaultTransitProvider(address: "http://127.0.0.1:\(PeerServer.freePort())", token: Self.token, timeout: .seconds(2))
        let unavailable = await #expect(throws: KeyError.self) { _ = try await gone.encrypt([1, 2, 3], tenant: UUID()) }
        #expect(unavailable?.code == .unavailable)
    }

    @Test func aCopySealedWithAVaultDataKeyRecallsAndItsStubNamesVault() async throws {
        try await withTransit { address in
            let vault = VaultTransitProvider(address: address, token: Self.token)
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("alto-vault-tier-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder + "/tier2", withIntermediateDirectories: true)
            let tenant = UUID()
            let content = (0..<(2 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let path = folder + "/quarterly.xlsx"
            try Data(content).write(to: URL(fileURLWithPath: path))
            var info = stat()
            stat(path, &info)
            let modified = Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec / 1000) / 1_000_000)
            let dataKey = try await vault.generateDataKey(tenant: tenant)
            var options = FileTierer.Options()
            options.sealing = FileTierer.Sealing(key: dataKey.key, encryption: StubRecord.Encryption(provider: vault.name, wrappedKey: dataKey.wrapped))
            let store = FilesystemStore(root: folder + "/tier2")
            let tierer = FileTierer(store: store, target: StorageTargetReference(id: UUID(), kind: .filesystem, location: folder + "/tier2"),
                                    customerID: tenant, hostID: UUID(), paths: ConfinedPaths(roots: [folder]), options: options)
            let result = await tierer.tier(TieringJob.File(fileID: 1, filePath: path, fileSize: Int64(content.count), lastModified: modified))
            #expect(result.outcome == .tiered, "\(result.reason ?? "")")
            #expect(try StubFile.record(at: path)?.encryption?.provider == "vault")
            try await StubRecall.recall(path: path, stores: VaultStores(store: store, vault: vault, tenant: tenant))
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == content)
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
