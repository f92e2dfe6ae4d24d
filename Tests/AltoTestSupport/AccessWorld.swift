import AltoModels
import Foundation
import PostgresNIO

/// Two tenants set up through the API as a provider would (a host with its agent and a scanned file, a storage
/// target, a rule, a user of each role), a super admin, and for any route a request that names the objects of
/// one side: the caller's own tenant, another tenant, or ids that exist nowhere. Objects a request changes or
/// deletes are made fresh for it, so the order of the cells does not matter.
public final class AccessWorld: @unchecked Sendable {
    public enum Side: CustomStringConvertible, Sendable {
        case own, other, nowhere
        public var description: String {
            switch self {
            case .own: "own tenant"
            case .other: "another tenant"
            case .nowhere: "unknown ids"
            }
        }
    }

    struct Tenant {
        var id: UUID
        var host: UUID
        var agentToken: String
        var target: UUID
        var rule: UUID
        var batch: UUID
        var filePath: String
    }

    public struct Request: Sendable {
        var method: String
        var path: String
        var body: Data?
        var contentType = "application/json"
        var headers: [String: String] = [:]
        /// The tenant the request is about.
        var tenant: UUID
        var side: Side
        /// Whether the path or body names the tenant's objects; when not, only a header can name another tenant.
        var namesObjects: Bool
    }

    static let password = "correct horse battery staple"

    let api: any APIClient
    /// The database, where a finding is made for a route that changes one: only the sanitizer makes them otherwise.
    let databaseURL: String
    /// Makes names unique to this world.
    let run: String
    private(set) var own: Tenant!
    private(set) var other: Tenant!
    private var serial = 0

    public init(_ api: any APIClient, run: String, databaseURL: String) async throws {
        self.api = api
        self.run = run
        self.databaseURL = databaseURL
        own = try await makeTenant("own")
        other = try await makeTenant("other")
        for role in Role.assignable where role != .superAdmin {
            _ = try await admin("POST", "/api/v1/users", tenant: own.id,
                                ["email": email(role), "password": Self.password, "role": role.rawValue])
        }
        _ = try await admin("POST", "/api/v1/users", tenant: nil,
                            ["email": email(.superAdmin), "password": Self.password, "role": Role.superAdmin.rawValue])
    }

    func email(_ role: Role) -> String { "\(role.rawValue)-\(run)@own.example" }

    /// A bearer token for `role`: the own tenant's agent, or a new session of the role's user.
    func credential(_ role: Role) async throws -> String {
        if role == .agent { return own.agentToken }
        let (status, token) = try await api.signIn(email: email(role), password: Self.password)
        guard let token else { throw TestFailure("no session for \(role): \(status)") }
        return token
    }

    public func send(_ request: Request, as role: Role) async throws -> (Int, String) {
        var headers = request.headers.merging(["Authorization": "Bearer \(try await credential(role))"]) { _, new in new }
        if request.body != nil { headers["Content-Type"] = request.contentType }
        // A super admin always says which tenant it acts for; anyone else can only try naming another one.
        if role == .superAdmin || (request.side != .own && !request.namesObjects) {
            headers["X-Alto-Customer-Id"] = request.tenant.uuidString
        }
        return try await api.request(request.method, request.path, body: request.body, headers: headers)
    }

    /// A request for `route` about the objects of `side`.
    public func request(_ route: AccessPolicy.Route, side: Side) async throws -> Request {
        let tenant: Tenant = switch side {
        case .own: own
        case .other: other
        case .nowhere: Tenant(id: UUID(), host: UUID(), agentToken: "", target: UUID(), rule: UUID(), batch: UUID(), filePath: "/nowhere")
        }
        serial += 1
        let unique = "\(run)-\(serial)"
        func fresh(_ make: () async throws -> UUID) async throws -> UUID { side == .nowhere ? UUID() : try await make() }
        func json(_ body: [String: any Sendable]) throws -> Data { try JSONSerialization.data(withJSONObject: body) }
        var request = Request(method: route.method, path: route.path, body: nil, tenant: tenant.id, side: side, namesObjects: true)
        func path(_ name: String, _ id: UUID) { request.path = request.path.replacingOccurrences(of: "{\(name)}", with: id.uuidString) }

        switch route.description {
        case "POST /api/v1/sessions":
            request.body = try json(["email": email(.viewer), "password": Self.password])
        case "POST /api/v1/customers":
            request.body = try json(["name": "customer \(unique)"])
        case "POST /api/v1/customers/{customerID}/hosts":
            path("customerID", tenant.id)
            request.body = try json(["hostname": "fs-\(unique)"])
        case "GET /api/v1/customers/{customerID}/report":
            path("customerID", tenant.id)
        case "GET /api/v1/hosts/{hostID}":
            path("hostID", tenant.host)
        case "POST /api/v1/hosts/{hostID}/agent-token":
            path("hostID", try await fresh { try await makeHost(tenant.id, unique) })
            request.body = try json(["grace_seconds": 60])
        case "DELETE /api/v1/hosts/{hostID}/agent-token":
            path("hostID", try await fresh { try await makeHost(tenant.id, unique) })
        case "POST /api/v1/hosts/{hostID}/heartbeat":
            path("hostID", tenant.host)
            request.body = try AltoJSON.encoder().encode(AgentHeartbeat(agentVersion: "matrix", volumes: [
                ManagedVolume(mountPoint: "/srv/share", totalBytes: 100 << 20, usedBytes: 10 << 20),
            ]))
        case "POST /api/v1/scan-results":
            request.headers = ["X-Alto-Host-Id": tenant.host.uuidString, "X-Alto-Batch-Id": UUID().uuidString,
                               "X-Alto-Full-Scan": "false"]
            request.contentType = "text/csv"
            request.body = Data(Self.csv(path: "/srv/share/\(unique).txt").utf8)
        case "GET /api/v1/scan-results/{batchID}":
            path("batchID", tenant.batch)
        case "POST /api/v1/rules":
            request.body = try json(["name": "rule \(unique)", "priority": 1000 + serial, "target_id": tenant.target.uuidString])
            request.namesObjects = false
        case "GET /api/v1/rules/{ruleID}":
            path("ruleID", tenant.rule)
        case "PUT /api/v1/rules/{ruleID}", "DELETE /api/v1/rules/{ruleID}", "POST /api/v1/rules/{ruleID}/enable",
             "POST /api/v1/rules/{ruleID}/disable":
            path("ruleID", try await fresh { try await makeRule(tenant, unique) })
            if route.method == "PUT" {
                request.body = try json(["name": "rule \(unique) changed", "priority": 5000 + serial, "target_id": tenant.target.uuidString])
            }
        case "POST /api/v1/storage-targets":
            request.body = try json(["name": "target \(unique)", "kind": "filesystem", "location": "/srv/tier2/\(unique)"])
            request.namesObjects = false
        case "GET /api/v1/storage-targets/{targetID}":
            path("targetID", tenant.target)
        case "PUT /api/v1/storage-targets/{targetID}", "DELETE /api/v1/storage-targets/{targetID}":
            path("targetID", try await fresh { try await makeTarget(tenant.id, unique) })
            if route.method == "PUT" {
                request.body = try json(["name": "target \(unique) changed", "kind": "filesystem", "location": "/srv/tier2/\(unique)"])
            }
        case "POST /api/v1/plans":
            request.body = try json([:])
            request.namesObjects = false
        case "POST /api/v1/plans/explain":
            request.body = try json(["host_id": tenant.host.uuidString, "file_path": tenant.filePath])
        case "POST /api/v1/recalls":
            request.body = try json(["rule_id": tenant.rule.uuidString])
        case "POST /api/v1/users":
            request.body = try json(["email": "new-\(unique)@example.com", "password": Self.password, "role": "viewer"])
            request.namesObjects = false
        case "GET /api/v1/users/{userID}", "PATCH /api/v1/users/{userID}", "DELETE /api/v1/users/{userID}":
            path("userID", try await fresh { try await makeUser(tenant.id, unique) })
            if route.method == "PATCH" { request.body = try json(["display_name": "Renamed"]) }
        case "POST /api/v1/api-tokens":
            request.body = try json(["name": "token \(unique)", "role": "viewer"])
            request.namesObjects = false
        case "DELETE /api/v1/api-tokens/{tokenID}":
            path("tokenID", try await fresh { try await makeToken(tenant.id, unique) })
        case "POST /api/v1/agent/reconciliations/{runID}/rows":
            path("runID", try await fresh { try await makeRun(tenant, unique) })
            request.headers = ["X-Alto-Host-Id": tenant.host.uuidString]
            let key = "\(tenant.id.uuidString.lowercased())/2026/01/01/\(tenant.host.uuidString.lowercased())/1-\(unique)"
            let row: [String: any Sendable] = ["kind": "object", "location": "s3://alto-matrix/\(key)", "key": key, "size": 1]
            request.body = try json(["rows": [row]])
        case "POST /api/v1/agent/reconciliations/{runID}/complete":
            path("runID", try await fresh { try await makeRun(tenant, unique) })
            request.headers = ["X-Alto-Host-Id": tenant.host.uuidString]
            request.body = try json(["objects_listed": 0, "copies_verified": 0, "stubs_checked": 0])
        case "GET /api/v1/agent/stubs":
            request.path += "?target_id=\(tenant.target.uuidString)"
        case "PATCH /api/v1/findings/{findingID}":
            request.path = request.path.replacingOccurrences(of: "{findingID}", with: "\(side == .nowhere ? 9_000_000_000 + Int64(serial) : try await makeFinding(tenant))")
            request.body = try json(["state": "accepted"])
        case "POST /api/v1/reconciliations":
            request.body = try json(["target_id": (try await fresh { try await makeBucket(tenant.id, unique) }).uuidString])
        case "GET /api/v1/reconciliations/{runID}":
            path("runID", try await fresh { try await makeRun(tenant, unique) })
        case "GET /api/v1/jobs/{jobID}":
            path("jobID", try await fresh { try await makeFinishedJob(tenant, table: "tiering_jobs") })
        case "GET /api/v1/recalls/{recallID}":
            path("recallID", try await fresh { try await makeFinishedJob(tenant, table: "recall_jobs") })
        case "GET /api/v1/analytics/inventory":
            request.path += "?host_id=\(tenant.host.uuidString)"
        default:
            guard !route.path.contains("{") else { throw TestFailure("the matrix does not know how to call \(route)") }
            request.namesObjects = false
        }
        return request
    }

    static func csv(path: String) -> String {
        "file_path,file_size,last_modified,last_accessed,file_extension,permissions,owner,hash\n\(path),100000,2020-01-01T00:00:00Z,2020-01-01T00:00:00Z,txt,0644,alice,\n"
    }

    // MARK: - Making objects as the provider

    private func makeTenant(_ name: String) async throws -> Tenant {
        let customer = try await id(admin("POST", "/api/v1/customers", tenant: nil, ["name": "\(name) \(run)"]))
        let enrolled = try await admin("POST", "/api/v1/customers/\(customer)/hosts", tenant: customer, ["hostname": "fs-\(name)"])
        let host = try id(enrolled)
        guard let token = enrolled["agent_token"] as? String else { throw TestFailure("no agent token") }
        let target = try await makeTarget(customer, name)
        let rule = try await id(admin("POST", "/api/v1/rules", tenant: customer,
                                      ["name": "rule \(name)", "priority": 1, "target_id": target.uuidString]))
        let filePath = "/srv/share/\(name)/report.pdf"
        let batch = UUID()
        let (status, text) = try await api.request("POST", "/api/v1/scan-results", body: Data(Self.csv(path: filePath).utf8), headers: [
            "Authorization": "Bearer \(token)", "X-Alto-Host-Id": host.uuidString, "X-Alto-Batch-Id": batch.uuidString,
            "X-Alto-Full-Scan": "true", "X-Alto-Final-Batch": "true", "Content-Type": "text/csv",
        ])
        guard status == 202 else { throw TestFailure("scan upload answered \(status): \(text)") }
        try await RunningSuite.waitUntil("the \(name) tenant's scan is ingested", timeout: .seconds(60)) {
            let (_, answer) = try await api.request("GET", "/api/v1/scan-results/\(batch)", body: nil,
                                                    headers: ["Authorization": "Bearer \(token)"])
            return answer.contains("\"status\":\"ingested\"")
        }
        return Tenant(id: customer, host: host, agentToken: token, target: target, rule: rule, batch: batch, filePath: filePath)
    }

    private func makeHost(_ customer: UUID, _ unique: String) async throws -> UUID {
        try id(await admin("POST", "/api/v1/customers/\(customer)/hosts", tenant: customer, ["hostname": "fs-\(unique)"]))
    }

    private func makeTarget(_ customer: UUID, _ unique: String) async throws -> UUID {
        try id(await admin("POST", "/api/v1/storage-targets", tenant: customer,
                           ["name": "target \(unique)", "kind": "filesystem", "location": "/srv/tier2/\(unique)"]))
    }

    /// A bucket target: one host of the tenant lists it, whether or not it holds stubs, so a run can be asked for.
    private func makeBucket(_ customer: UUID, _ unique: String) async throws -> UUID {
        try id(await admin("POST", "/api/v1/storage-targets", tenant: customer, [
            "name": "bucket \(unique)", "kind": "s3", "location": "s3://alto-matrix/\(unique)",
            "settings": ["access_key_id": "AKIAMATRIX", "secret_access_key": "matrix-secret"],
        ]))
    }

    /// A reconciliation run of a fresh bucket, sent to the tenant's host: the planner sends a bucket's listing to
    /// the host heard from last, so the tenant's host is made that one, whatever its fresh siblings did.
    private func makeRun(_ tenant: Tenant, _ unique: String) async throws -> UUID {
        try await TestServers.withPostgres(databaseURL) { connection in
            try await connection.query("BEGIN", logger: TestServers.logger)
            try await connection.query("SELECT set_config('alto.customer_id', \(tenant.id.uuidString), true)", logger: TestServers.logger)
            try await connection.query("UPDATE hosts SET last_heartbeat_at = now() + interval '1 minute' WHERE id = \(tenant.host)",
                                       logger: TestServers.logger)
            try await connection.query("COMMIT", logger: TestServers.logger)
        }
        let answer = try await admin("POST", "/api/v1/reconciliations", tenant: tenant.id, ["target_id": try await makeBucket(tenant.id, unique).uuidString])
        guard let runs = answer["runs"] as? [[String: Any]], let text = runs.first?["id"] as? String, let run = UUID(uuidString: text) else {
            throw TestFailure("no run in \(answer)")
        }
        return run
    }

    /// An open finding of the tenant's target, made in the database as the sanitizer would.
    private func makeFinding(_ tenant: Tenant) async throws -> Int64 {
        try await TestServers.withPostgres(databaseURL) { connection in
            try await connection.query("BEGIN", logger: TestServers.logger)
            try await connection.query("SELECT set_config('alto.customer_id', \(tenant.id.uuidString), true)", logger: TestServers.logger)
            let rows = try await connection.query("""
                INSERT INTO findings (customer_id, kind, target_id, host_id, location)
                VALUES (\(tenant.id), 'orphan', \(tenant.target), \(tenant.host), \("/srv/tier2/orphan-\(UUID())")) RETURNING id
                """, logger: TestServers.logger).collect()
            try await connection.query("COMMIT", logger: TestServers.logger)
            guard let id = try rows.first?.decode(Int64.self) else { throw TestFailure("no finding made") }
            return id
        }
    }

    /// A tiering or recall job of the tenant's host that has finished, so no service picks it up.
    private func makeFinishedJob(_ tenant: Tenant, table: String) async throws -> UUID {
        let id = UUID()
        try await TestServers.withPostgres(databaseURL) { connection in
            try await connection.query("BEGIN", logger: TestServers.logger)
            try await connection.query("SELECT set_config('alto.customer_id', \(tenant.id.uuidString), true)", logger: TestServers.logger)
            if table == "tiering_jobs" {
                try await connection.query("""
                    INSERT INTO tiering_jobs (id, customer_id, host_id, rule_id, target_id, priority, state, file_count, total_bytes,
                                              estimated_space_saved, estimated_duration_seconds, finished_at)
                    VALUES (\(id), \(tenant.id), \(tenant.host), \(tenant.rule), \(tenant.target), 1, 'done', 0, 0, 0, 0, now())
                    """, logger: TestServers.logger)
            } else {
                try await connection.query("""
                    INSERT INTO recall_jobs (id, customer_id, host_id, requested_by, state, file_count, finished_at)
                    VALUES (\(id), \(tenant.id), \(tenant.host), 'matrix', 'done', 0, now())
                    """, logger: TestServers.logger)
            }
            try await connection.query("COMMIT", logger: TestServers.logger)
        }
        return id
    }

    private func makeRule(_ tenant: Tenant, _ unique: String) async throws -> UUID {
        try id(await admin("POST", "/api/v1/rules", tenant: tenant.id,
                           ["name": "fixture \(unique)", "priority": 100_000 + serial, "target_id": tenant.target.uuidString]))
    }

    private func makeUser(_ customer: UUID, _ unique: String) async throws -> UUID {
        try id(await admin("POST", "/api/v1/users", tenant: customer,
                           ["email": "fixture-\(unique)@example.com", "password": Self.password, "role": "viewer"]))
    }

    private func makeToken(_ customer: UUID, _ unique: String) async throws -> UUID {
        try id(await admin("POST", "/api/v1/api-tokens", tenant: customer, ["name": "fixture \(unique)", "role": "viewer"]))
    }

    private func admin(_ method: String, _ path: String, tenant: UUID?, _ body: [String: any Sendable]) async throws -> [String: Any] {
        var headers = RunningSuite.adminHeaders
        if let tenant { headers["X-Alto-Customer-Id"] = tenant.uuidString }
        return try await call(method, path, headers: headers, body)
    }

    private func call(_ method: String, _ path: String, headers: [String: String], _ body: [String: any Sendable]) async throws -> [String: Any] {
        let (status, text) = try await api.request(method, path, body: try JSONSerialization.data(withJSONObject: body),
                                                   headers: headers.merging(["Content-Type": "application/json"]) { _, new in new })
        guard (200..<300).contains(status) else { throw TestFailure("\(method) \(path) answered \(status): \(text)") }
        return (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
    }

    private func id(_ answer: [String: Any]) throws -> UUID {
        guard let text = answer["id"] as? String, let id = UUID(uuidString: text) else { throw TestFailure("no id in \(answer)") }
        return id
    }
}
