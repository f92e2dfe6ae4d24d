import AltoModels
import AltoTestSupport
import Foundation
import Testing

/// The public API fuzzed by schemathesis from `openapi.yaml`, as a super admin acting for a tenant and as a
/// host's agent: whatever it sends, the API answers without a 5xx and keeps running. And the document itself
/// describes every route of the permission table with the permission and roles the API enforces.
@Suite(.timeLimit(.minutes(8))) struct APIFuzzTests {
    static let document = TestServers.packageRoot.appendingPathComponent("openapi.yaml").path

    @Test func theDocumentDescribesEveryRouteWithThePermissionTheAPIEnforces() async throws {
        let json = try await PeerServer.python("import json, yaml; print(json.dumps(yaml.safe_load(open('\(Self.document)'))))")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var described = Set<String>()
        for (path, operations) in paths {
            for (method, value) in operations {
                let operation = try #require(value as? [String: Any])
                let route = AccessPolicy.Route(method.uppercased(), path)
                described.insert(route.description)
                guard let requirement = AccessPolicy.routes[route] else {
                    Issue.record("\(route) is documented but not in the permission table")
                    continue
                }
                #expect((operation["responses"] as? [String: Any])?.isEmpty == false, "\(route) documents its answers")
                switch requirement {
                case .open:
                    #expect(operation["x-alto-permission"] as? String == "open", "\(route)")
                case .permission(let permission):
                    #expect(operation["x-alto-permission"] as? String == permission.rawValue, "\(route)")
                    let roles = Role.allCases.filter { AccessPolicy.allows($0, permission) }.map(\.rawValue)
                    #expect(operation["x-alto-roles"] as? [String] == roles, "\(route)")
                    let responses = operation["responses"] as? [String: Any] ?? [:]
                    #expect(responses["401"] != nil && responses["403"] != nil && responses["404"] != nil, "\(route) documents its refusals")
                }
            }
        }
        #expect(described == Set(AccessPolicy.routes.keys.map(\.description)))
    }

    @Test func fuzzingTheAPIFindsNoServerErrorAndNoCrash() async throws {
        let suite = try await RunningSuite(["alto-api"])
        try await suite.whileRunning {
            let (customer, _, agentToken) = try await suite.enrol("fuzz-\(suite.run)")
            struct Created: Decodable { var id: UUID }
            let target: Created = try await suite.post("/api/v1/storage-targets", ["name": "tier2", "kind": "filesystem", "location": "/srv/tier2"],
                                                       customer: customer)
            let _: Created = try await suite.post("/api/v1/rules", ["name": "cold", "priority": 1, "target_id": target.id.uuidString], customer: customer)
            // The stateful phase follows the document's own links (a tenant made, then its hosts enrolled, their tokens
            // rotated and revoked; a rule made, then read, replaced, disabled, deleted...). Schemathesis's dependency
            // analysis would read X-Alto-Customer-Id as the key of a resource nothing makes and start from nothing else.
            let configuration = suite.work.appendingPathComponent("schemathesis.toml")
            try Data("[phases.stateful]\ninference.algorithms = [\"location-headers\"]\n".utf8).write(to: configuration)
            let admin = ["-H", "Authorization: Bearer \(TestBackends.adminToken)"]
            let tenant = admin + ["-H", "X-Alto-Customer-Id: \(customer)"]
            let agent = ["-H", "Authorization: Bearer \(agentToken)", "--include-path-regex", "heartbeat|scan-results"]
            // Each operation once without links, and each chain from where it can start: the provider's tenants and
            // hosts without a tenant named, the tenant's rules, targets, users and tokens, the agent's batches.
            let runs: [(String, String, Int, [String])] = [
                ("as a super admin acting for a tenant", "examples,coverage,fuzzing", 40, tenant + ["--exclude-path-regex", "heartbeat|scan-results"]),
                ("as the host's agent", "examples,coverage,fuzzing", 30, agent),
                ("as the provider's super admin", "stateful", 25, admin + ["--include-path-regex", "^/api/v1/(customers|hosts)", "--exclude-path-regex", "heartbeat"]),
                ("as a super admin acting for a tenant", "stateful", 25, tenant + ["--exclude-path-regex", "heartbeat|scan-results|customers"]),
                ("as the host's agent", "stateful", 15, agent),
            ]
            for (who, phases, seconds, arguments) in runs {
                let outcome = try await Command.run("schemathesis", ["--config-file", configuration.path, "run", Self.document, "--url", suite.apiURL,
                                                               "--checks", "not_a_server_error", "--phases", phases,
                                                               "--max-examples", "25", "--seed", "20261125", "--workers", "1",
                                                               "--max-time", "\(seconds)", "--request-timeout", "20", "--warnings", "off"] + arguments,
                                              environment: ["NO_COLOR": "1"])
                let report = String(decoding: outcome.output, as: UTF8.self)
                #expect(outcome.status == 0, "schemathesis \(who) (\(phases)) found server errors:\n\(report.suffix(6000))")
                let figures = report.split(separator: "\n").filter { $0.contains("API Links:") || $0.contains("generated,") }
                print("schemathesis \(who), \(phases): \(figures.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "; "))")
                if phases == "stateful", let links = figures.first(where: { $0.contains("API Links:") }), arguments != agent {
                    let covered = links.split(separator: ":").last?.split(separator: " ").first.flatMap { Int($0) } ?? 0
                    #expect(covered > 0, "schemathesis \(who) followed links: \(links)")
                }
            }
            #expect(try await suite.send("GET", suite.apiURL + "/healthz", body: nil, headers: [:]).0 == 200, "the API is still up")
        }
    }
}
