import Foundation
import JWTKit

/// What a session token says: whose session it is, in which tenant, with which role, for how long, and which
/// of the user's session epochs it belongs to (logging out, a new password or disabling the user starts a new
/// epoch and voids every token of the earlier ones).
struct SessionClaims: JWTPayload, Equatable {
    static let audience = "alto-api"
    static let issuer = "alto"

    var subject: SubjectClaim
    var audience: AudienceClaim
    var issuer: IssuerClaim
    var issuedAt: IssuedAtClaim
    var expiration: ExpirationClaim
    var id: IDClaim
    var tenant: String?
    var role: String
    var epoch: Int

    enum CodingKeys: String, CodingKey {
        case subject = "sub", audience = "aud", issuer = "iss", issuedAt = "iat", expiration = "exp", id = "jti"
        case tenant = "tid", role, epoch = "sep"
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try expiration.verifyNotExpired()
        try audience.verifyIntendedAudience(includes: Self.audience)
        guard issuer.value == Self.issuer else {
            throw JWTError.claimVerificationFailure(failedClaim: issuer, reason: "not issued by Alto")
        }
    }
}
