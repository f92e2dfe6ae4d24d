import HTTPTypes

/// The one permission table: which role holds which permission, and which permission each route needs. The
/// access middleware answers every request from it; a route missing here answers 404 to everyone, so a route
/// cannot be reachable without an entry, and the tests check that every route the router knows has one.
enum AccessPolicy {
    /// What each role may do.
    static let grants: [Role: Set<Permission>] = [
        .superAdmin: Set(Permission.allCases).subtracting([.agentReport]),
        .admin: [.tenantRead, .auditRead, .rulesManage, .plansRun, .recallsRun, .targetsManage, .hostsManage, .usersManage,
                 .tokensManage, .keysManage, .notificationsFollow, .sessionOwn],
        .operator: [.tenantRead, .rulesManage, .plansRun, .recallsRun, .notificationsFollow, .sessionOwn],
        .support: [.tenantRead, .auditRead, .recallsRun, .notificationsFollow, .sessionOwn],
        .viewer: [.tenantRead, .notificationsFollow, .sessionOwn],
        .agent: [.agentReport],
    ]

    /// What a route needs.
    enum Requirement: Equatable, Sendable {
        /// Anyone: health, metrics, login.
        case open
        case permission(Permission)
    }

    struct Route: Hashable, Sendable, CustomStringConvertible {
        var method: HTTPRequest.Method
        /// The router's form of the path: `/api/v1/rules/{ruleID}`.
        var path: String
        var description: String { "\(method.rawValue) \(path)" }
    }

    static let routes: [Route: Requirement] = [
        Route(method: .get, path: "/healthz"): .open,
        Route(method: .get, path: "/metrics"): .open,
        Route(method: .post, path: "/api/v1/sessions"): .open,
        Route(method: .delete, path: "/api/v1/sessions"): .permission(.sessionOwn),
        Route(method: .get, path: "/api/v1/me"): .permission(.sessionOwn),

        Route(method: .post, path: "/api/v1/customers"): .permission(.tenantsManage),
        Route(method: .get, path: "/api/v1/customers"): .permission(.tenantsManage),
        Route(method: .post, path: "/api/v1/customers/{customerID}/hosts"): .permission(.hostsManage),
        Route(method: .get, path: "/api/v1/customers/{customerID}/report"): .permission(.tenantRead),

        Route(method: .get, path: "/api/v1/hosts"): .permission(.tenantRead),
        Route(method: .get, path: "/api/v1/hosts/{hostID}"): .permission(.tenantRead),
        Route(method: .post, path: "/api/v1/hosts/{hostID}/agent-token"): .permission(.hostsManage),
        Route(method: .delete, path: "/api/v1/hosts/{hostID}/agent-token"): .permission(.hostsManage),
        Route(method: .post, path: "/api/v1/hosts/{hostID}/heartbeat"): .permission(.agentReport),
        Route(method: .post, path: "/api/v1/scan-results"): .permission(.agentReport),
        Route(method: .get, path: "/api/v1/scan-results/{batchID}"): .permission(.agentReport),

        Route(method: .get, path: "/api/v1/rules"): .permission(.tenantRead),
        Route(method: .post, path: "/api/v1/rules"): .permission(.rulesManage),
        Route(method: .get, path: "/api/v1/rules/{ruleID}"): .permission(.tenantRead),
        Route(method: .put, path: "/api/v1/rules/{ruleID}"): .permission(.rulesManage),
        Route(method: .delete, path: "/api/v1/rules/{ruleID}"): .permission(.rulesManage),
        Route(method: .post, path: "/api/v1/rules/{ruleID}/enable"): .permission(.rulesManage),
        Route(method: .post, path: "/api/v1/rules/{ruleID}/disable"): .permission(.rulesManage),

        Route(method: .get, path: "/api/v1/storage-targets"): .permission(.tenantRead),
        Route(method: .post, path: "/api/v1/storage-targets"): .permission(.targetsManage),
        Route(method: .get, path: "/api/v1/storage-targets/{targetID}"): .permission(.tenantRead),
        Route(method: .put, path: "/api/v1/storage-targets/{targetID}"): .permission(.targetsManage),
        Route(method: .delete, path: "/api/v1/storage-targets/{targetID}"): .permission(.targetsManage),

        Route(method: .post, path: "/api/v1/plans"): .permission(.plansRun),
        Route(method: .post, path: "/api/v1/plans/explain"): .permission(.tenantRead),
        Route(method: .post, path: "/api/v1/recalls"): .permission(.recallsRun),

        Route(method: .get, path: "/api/v1/users"): .permission(.usersManage),
        Route(method: .post, path: "/api/v1/users"): .permission(.usersManage),
        Route(method: .get, path: "/api/v1/users/{userID}"): .permission(.usersManage),
        Route(method: .patch, path: "/api/v1/users/{userID}"): .permission(.usersManage),
        Route(method: .delete, path: "/api/v1/users/{userID}"): .permission(.usersManage),

        Route(method: .get, path: "/api/v1/api-tokens"): .permission(.tokensManage),
        Route(method: .post, path: "/api/v1/api-tokens"): .permission(.tokensManage),
        Route(method: .delete, path: "/api/v1/api-tokens/{tokenID}"): .permission(.tokensManage),

        Route(method: .get, path: "/api/v1/audit"): .permission(.auditRead),
    ]

    static func requirement(method: HTTPRequest.Method, path: String) -> Requirement? {
        routes[Route(method: method, path: path)]
    }

    static func allows(_ role: Role, _ permission: Permission) -> Bool {
        grants[role]?.contains(permission) ?? false
    }
}
