import AsyncHTTPClient
import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// HashiCorp Vault's Transit secrets engine, over its HTTP API: one named key per tenant (`alto-<tenant id>`),
/// made on first use; data keys from `datakey/plaintext`, secrets through `encrypt` and `decrypt`, rotation
/// with `keys/<name>/rotate`, and `rewrap` to bring a ciphertext to the newest key version without Alto ever
/// seeing the tenant's key.
public final class VaultTransitProvider: KeyProvider {
    public var name: String { "vault" }

    let address: String
    let token: String
    let mount: String
    let namespace: String?
    let keyPrefix: String
    let timeout: TimeAmount
    let client: HTTPClient
    private let ensured = NIOLockedValueBox<Set<UUID>>([])

    /// - Parameters:
    ///   - address: `https://vault.example:8200`.
    ///   - mount: where the Transit engine is mounted (`transit`).
    ///   - namespace: the Vault Enterprise namespace, if any.
    ///   - timeout: how long one request may take, connecting included; a Vault out of reach fails within it.
    public init(address: String, token: String, mount: String = "transit", namespace: String? = nil, keyPrefix: String = "alto-",
                timeout: TimeAmount = .seconds(10), client: HTTPClient = .shared) {
        self.address = address.hasSuffix("/") ? String(address.dropLast()) : address
        self.token = token
        self.mount = mount.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.namespace = namespace
        self.keyPrefix = keyPrefix
        self.timeout = timeout
        self.client = client
    }

    func keyName(_ tenant: UUID) -> String { keyPrefix + tenant.uuidString.lowercased() }

    public func generateDataKey(tenant: UUID) async throws -> DataKey {
        try await ensureKey(tenant)
        let data = try await call("POST", "datakey/plaintext/\(keyName(tenant))", ["bits": 256])
        guard let plaintext = (data["plaintext"] as? String).flatMap({ Data(base64Encoded: $0) }), plaintext.count == 32,
              let ciphertext = data["ciphertext"] as? String else {
            throw KeyError(.refused, "Vault's datakey answer has no 256-bit plaintext and ciphertext")
        }
        return DataKey(key: SymmetricKey(data: plaintext), wrapped: ciphertext)
    }

    public func encrypt(_ plaintext: [UInt8], tenant: UUID) async throws -> String {
        try await ensureKey(tenant)
        let data = try await call("POST", "encrypt/\(keyName(tenant))", ["plaintext": Data(plaintext).base64EncodedString()])
        guard let ciphertext = data["ciphertext"] as? String else { throw KeyError(.refused, "Vault's encrypt answer has no ciphertext") }
        return ciphertext
    }

    public func decrypt(_ ciphertext: String, tenant: UUID) async throws -> [UInt8] {
        guard ciphertext.hasPrefix("vault:v") else { throw KeyError(.invalidCiphertext, "not a Vault Transit ciphertext") }
        let data = try await call("POST", "decrypt/\(keyName(tenant))", ["ciphertext": ciphertext])
        guard let plaintext = (data["plaintext"] as? String).flatMap({ Data(base64Encoded: $0) }) else {
            throw KeyError(.refused, "Vault's decrypt answer has no plaintext")
        }
        return Array(plaintext)
    }

    public func rotate(tenant: UUID) async throws -> Int {
        try await ensureKey(tenant)
        _ = try await call("POST", "keys/\(keyName(tenant))/rotate", nil)
        let key = try await call("GET", "keys/\(keyName(tenant))", nil)
        guard let version = key["latest_version"] as? Int else { throw KeyError(.refused, "Vault's key answer has no latest_version") }
        return version
    }

    public func rewrap(_ ciphertext: String, tenant: UUID) async throws -> String {
        let data = try await call("POST", "rewrap/\(keyName(tenant))", ["ciphertext": ciphertext])
        guard let rewrapped = data["ciphertext"] as? String else { throw KeyError(.refused, "Vault's rewrap answer has no ciphertext") }
        return rewrapped
    }

    /// Creates the tenant's key once per process; creating a key that exists changes nothing.
    private func ensureKey(_ tenant: UUID) async throws {
        guard !ensured.withLockedValue({ $0.contains(tenant) }) else { return }
        _ = try await call("POST", "keys/\(keyName(tenant))", ["type": "aes256-gcm96"])
        ensured.withLockedValue { _ = $0.insert(tenant) }
    }

    /// One request to the engine; answers `data` of the response, or throws with Vault's own `errors`.
    func call(_ method: String, _ path: String, _ body: [String: any Sendable]?) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: "\(address)/v1/\(mount)/\(path)")
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "X-Vault-Token", value: token)
        if let namespace { request.headers.add(name: "X-Vault-Namespace", value: namespace) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(request, timeout: timeout)
            bytes = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw KeyError(.unavailable, "Vault at \(address) cannot be reached: \(error)")
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        guard (200..<300).contains(Int(response.status.code)) else {
            let errors = (object["errors"] as? [String])?.joined(separator: "; ") ?? "no detail"
            throw KeyError(response.status.code >= 500 ? .unavailable : .refused,
                           "Vault answered \(response.status.code) to \(method) \(mount)/\(path.split(separator: "/").first ?? ""): \(errors)")
        }
        return object["data"] as? [String: Any] ?? [:]
    }
}
