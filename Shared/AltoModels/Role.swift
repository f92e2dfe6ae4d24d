/// What a caller may be. Users and API tokens hold one of the first five; an agent's token is always `agent`.
public enum Role: String, CaseIterable, Codable, Sendable {
    /// The service provider's administrator: creates tenants and may act inside any of them.
    case superAdmin = "super_admin"
    /// Everything inside its tenant.
    case admin
    /// Rules, plans and recalls.
    case `operator`
    /// Reads everything and triggers recalls.
    case support
    /// Reads everything.
    case viewer
    /// One host's agent: its own uploads, heartbeats and results.
    case agent

    /// The roles a user or an API token may be given.
    public static let assignable: [Role] = [.superAdmin, .admin, .operator, .support, .viewer]
}
