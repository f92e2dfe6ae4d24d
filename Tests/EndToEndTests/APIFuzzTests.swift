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
            let (customer, host, agentToken) = try await suite.enrol("fuzz-\(suite.run)")
            struct Created: Decodable { var id: UUID }
            let target: Created = try await suite.post("/api/v1/storage-targets", ["name": "tier2", "kind": "filesystem", "location": "/srv/tier2"],
                                                       customer: customer)
            let _: Created = try await suite.post("/api/v1/rules", ["name": "cold", "priority": 1, "target_id": target.id.uuidString], customer: customer)
            let runs: [(String, [String])] = [
                ("as a super admin acting for a tenant", ["-H", "Authorization: Bearer \(TestBackends.adminToken)", "-H", "X-Alto-Customer-Id: \(customer)",
                                                         "--exclude-path-regex", "heartbeat|scan-results"]),
                ("as the host's agent", ["-H", "Authorization: Bearer \(agentToken)", "--include-path-regex", "heartbeat|scan-results"]),
            ]
            for (who, arguments) in runs {
                let outcome = try await Command.run("schemathesis", ["run", Self.document, "--url", suite.apiURL, "--checks", "not_a_server_error",
                                                               "--max-examples", "25", "--seed", "20261125", "--workers", "1",
                                                               "--max-time", "75", "--request-timeout", "20", "--warnings", "off"] + arguments,
                                              environment: ["NO_COLOR": "1"])
                let report = String(decoding: outcome.output, as: UTF8.self)
                #expect(outcome.status == 0, "schemathesis \(who) found server errors:\n\(report.suffix(6000))")
            }
            #expect(try await suite.send("GET", suite.apiURL + "/healthz", body: nil, headers: [:]).0 == 200, "the API is still up")
            _ = host
        }
    }
}
