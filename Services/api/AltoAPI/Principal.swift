import AltoModels
import Foundation

/// Who made a request, as the access middleware established it.
struct Principal: Sendable, Equatable {
    enum Kind: String, Sendable {
        case user, apiToken = "api_token", agent, bootstrapToken = "bootstrap_token"
    }

    var kind: Kind
    /// The user's, token's or host's id; nil for the bootstrap token.
    var id: UUID?
    /// The tenant it lives in; nil for the provider's super admins.
    var customerID: UUID?
    var role: Role
    /// How the audit trail names it: `user:<email>`, `token:<id>`, `agent:<host id>`, `admin-token`.
    var auditName: String

    /// The host whose agent this is.
    var hostID: UUID? { kind == .agent ? id : nil }
}
