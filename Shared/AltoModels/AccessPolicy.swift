/// The one permission table: which role holds which permission, and which permission each route needs. The
/// access middleware answers every request from it; a route missing here answers 404 to everyone, so a route
/// cannot be reachable without an entry, and the tests check that every route the router knows has one. It lives
/// here, as plain values, so the tests and the OpenAPI check read the same table the API enforces.
public enum AccessPolicy {
    /// What each role may do.
    public static let grants: [Role: Set<Permission>] = [
        .superAdmin: Set(Permission.allCases).subtracting([.agentReport]),
        .admin: [.tenantRead, .auditRead, .rulesManage, .plansRun, .recallsRun, .targetsManage, .hostsManage, .usersManage,
                 .tokensManage, .keysManage, .notificationsFollow, .sessionOwn],
        .operator: [.tenantRead, .rulesManage, .plansRun, .recallsRun, .notificationsFollow, .sessionOwn],
        .support: [.tenantRead, .auditRead, .recallsRun, .notificationsFollow, .sessionOwn],
        .viewer: [.tenantRead, .notificationsFollow, .sessionOwn],
        .agent: [.agentReport],
    ]

    /// What a route needs.
    public enum Requirement: Equatable, Sendable {
        /// Anyone: health, metrics, login.
        case open
        case permission(Permission)
    }

    public struct Route: Hashable, Sendable, CustomStringConvertible {
        /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
        public var method: String
        /// The router's form of the path: `/api/v1/rules/{ruleID}`.
        public var path: String
        public var description: String { "\(method) \(path)" }

        public init(_ method: String, _ path: String) {
            self.method = method
            self.path = path
        }
    }

    public static let routes: [Route: Requirement] = [
        Route("GET", "/healthz"): .open,
        Route("GET", "/metrics"): .open,
        Route("POST", "/api/v1/sessions"): .open,
        Route("DELETE", "/api/v1/sessions"): .permission(.sessionOwn),
        Route("GET", "/api/v1/me"): .permission(.sessionOwn),

        Route("POST", "/api/v1/customers"): .permission(.tenantsManage),
        Route("GET", "/api/v1/customers"): .permission(.tenantsManage),
        Route("POST", "/api/v1/customers/{customerID}/hosts"): .permission(.hostsManage),
        Route("GET", "/api/v1/customers/{customerID}/report"): .permission(.tenantRead),

        Route("GET", "/api/v1/hosts"): .permission(.tenantRead),
        Route("GET", "/api/v1/hosts/{hostID}"): .permission(.tenantRead),
        Route("POST", "/api/v1/hosts/{hostID}/agent-token"): .permission(.hostsManage),
        Route("DELETE", "/api/v1/hosts/{hostID}/agent-token"): .permission(.hostsManage),
        Route("POST", "/api/v1/hosts/{hostID}/heartbeat"): .permission(.agentReport),
        Route("POST", "/api/v1/agent/broker-account"): .permission(.agentReport),
        Route("POST", "/api/v1/scan-results"): .permission(.agentReport),
        Route("GET", "/api/v1/scan-results/{batchID}"): .permission(.agentReport),
        Route("POST", "/api/v1/agent/reconciliations/{runID}/rows"): .permission(.agentReport),
        Route("POST", "/api/v1/agent/reconciliations/{runID}/complete"): .permission(.agentReport),
        Route("GET", "/api/v1/agent/stubs"): .permission(.agentReport),

        Route("GET", "/api/v1/rules"): .permission(.tenantRead),
        Route("POST", "/api/v1/rules"): .permission(.rulesManage),
        Route("GET", "/api/v1/rules/{ruleID}"): .permission(.tenantRead),
        Route("PUT", "/api/v1/rules/{ruleID}"): .permission(.rulesManage),
        Route("DELETE", "/api/v1/rules/{ruleID}"): .permission(.rulesManage),
        Route("POST", "/api/v1/rules/{ruleID}/enable"): .permission(.rulesManage),
        Route("POST", "/api/v1/rules/{ruleID}/disable"): .permission(.rulesManage),

        Route("GET", "/api/v1/storage-targets"): .permission(.tenantRead),
        Route("POST", "/api/v1/storage-targets"): .permission(.targetsManage),
        Route("GET", "/api/v1/storage-targets/{targetID}"): .permission(.tenantRead),
        Route("PUT", "/api/v1/storage-targets/{targetID}"): .permission(.targetsManage),
        Route("DELETE", "/api/v1/storage-targets/{targetID}"): .permission(.targetsManage),

        Route("POST", "/api/v1/plans"): .permission(.plansRun),
        Route("POST", "/api/v1/plans/explain"): .permission(.tenantRead),
        Route("POST", "/api/v1/recalls"): .permission(.recallsRun),

        Route("GET", "/api/v1/findings"): .permission(.tenantRead),
        Route("PATCH", "/api/v1/findings/{findingID}"): .permission(.targetsManage),
        Route("POST", "/api/v1/reconciliations"): .permission(.targetsManage),
        Route("GET", "/api/v1/reconciliations/{runID}"): .permission(.tenantRead),

        Route("GET", "/api/v1/users"): .permission(.usersManage),
        Route("POST", "/api/v1/users"): .permission(.usersManage),
        Route("GET", "/api/v1/users/{userID}"): .permission(.usersManage),
        Route("PATCH", "/api/v1/users/{userID}"): .permission(.usersManage),
        Route("DELETE", "/api/v1/users/{userID}"): .permission(.usersManage),

        Route("GET", "/api/v1/api-tokens"): .permission(.tokensManage),
        Route("POST", "/api/v1/api-tokens"): .permission(.tokensManage),
        Route("DELETE", "/api/v1/api-tokens/{tokenID}"): .permission(.tokensManage),

        Route("GET", "/api/v1/jobs"): .permission(.tenantRead),
        Route("GET", "/api/v1/jobs/{jobID}"): .permission(.tenantRead),
        Route("GET", "/api/v1/recalls"): .permission(.tenantRead),
        Route("GET", "/api/v1/recalls/{recallID}"): .permission(.tenantRead),
        Route("GET", "/api/v1/analytics/savings"): .permission(.tenantRead),
        Route("GET", "/api/v1/analytics/inventory"): .permission(.tenantRead),

        Route("GET", "/api/v1/audit"): .permission(.auditRead),
        Route("GET", "/api/v1/notifications"): .permission(.notificationsFollow),
        Route("POST", "/api/v1/keys/rotate"): .permission(.keysManage),
    ]

    public static func requirement(method: String, path: String) -> Requirement? {
        routes[Route(method, path)]
    }

    public static func allows(_ role: Role, _ permission: Permission) -> Bool {
        grants[role]?.contains(permission) ?? false
    }
}
