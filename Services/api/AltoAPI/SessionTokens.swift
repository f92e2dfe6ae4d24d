import AltoModels
import Crypto
import Foundation
import JWTKit

/// Signs and checks the short-lived session tokens a login hands out (HS256 with `ALTO_SESSION_KEY`, which every
/// API replica must share).
struct SessionTokens: Sendable {
    let keys: JWTKeyCollection
    let lifetime: Duration

    init(secret: String, lifetime: Duration) async {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(key: SymmetricKey(data: SHA256.hash(data: Data(secret.utf8)))), digestAlgorithm: .sha256, kid: "alto-session")
        self.keys = keys
        self.lifetime = lifetime
    }

    struct Issued: Sendable {
        var token: String
        var expiresAt: Date
    }

    func issue(userID: UUID, customerID: UUID?, role: Role, epoch: Int, now: Date = Date()) async throws -> Issued {
        let expiresAt = now.addingTimeInterval(Double(lifetime.components.seconds))
        let claims = SessionClaims(
            subject: .init(value: userID.uuidString.lowercased()), audience: .init(value: [SessionClaims.audience]),
            issuer: .init(value: SessionClaims.issuer), issuedAt: .init(value: now), expiration: .init(value: expiresAt),
            id: .init(value: UUID().uuidString.lowercased()), tenant: customerID?.uuidString.lowercased(), role: role.rawValue,
            epoch: epoch)
        return Issued(token: try await keys.sign(claims, kid: "alto-session"), expiresAt: expiresAt)
    }

    /// The claims of a token that is well signed, unexpired and meant for this API; nil for anything else.
    func verify(_ token: String) async -> SessionClaims? {
        try? await keys.verify(token, as: SessionClaims.self)
    }

    /// Session tokens are three base64url parts; API and agent tokens never contain a dot.
    static func looksLikeSession(_ token: String) -> Bool {
        token.split(separator: ".", omittingEmptySubsequences: false).count == 3
    }
}
