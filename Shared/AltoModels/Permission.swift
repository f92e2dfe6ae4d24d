/// What a route needs. Which role has which permission is `AccessPolicy.grants`, and nowhere else.
public enum Permission: String, CaseIterable, Sendable {
    /// Create and list tenants.
    case tenantsManage = "tenants.manage"
    /// Read a tenant's configuration, inventory, jobs and reports.
    case tenantRead = "tenant.read"
    /// Read the tenant's audit trail.
    case auditRead = "audit.read"
    /// Create, change, disable and delete rules.
    case rulesManage = "rules.manage"
    /// Run plans.
    case plansRun = "plans.run"
    /// Ask for recalls.
    case recallsRun = "recalls.run"
    /// Create, change and delete storage targets (they hold credentials).
    case targetsManage = "targets.manage"
    /// Enrol hosts and rotate or revoke their agent tokens.
    case hostsManage = "hosts.manage"
    /// Create, change and disable users.
    case usersManage = "users.manage"
    /// Create and revoke API tokens.
    case tokensManage = "tokens.manage"
    /// Rotate the tenant's encryption keys.
    case keysManage = "keys.manage"
    /// Follow the tenant's notifications.
    case notificationsFollow = "notifications.follow"
    /// Upload scans and send heartbeats for the agent's own host.
    case agentReport = "agent.report"
    /// End one's own session and read who one is.
    case sessionOwn = "session.own"
}
