import AltoModels
import AltoTestSupport
import Foundation
import Testing

/// The API's routes asked in-process, through the router with no socket, over the real database: the whole
/// access matrix of the permission table in seconds (the end-to-end tests ask it again over HTTP).
@Suite(.timeLimit(.minutes(3))) struct APIRouterTests {
    @Test func theAccessMatrixThroughTheRouter() async throws {
        try await InProcessAPI.run { api, backends in
            let started = ContinuousClock.now
            let report = try await AccessMatrix.check(try await AccessWorld(api, run: backends.run))
            #expect(report.failures.isEmpty, "\(report.failures.count) of \(report.cells) cells:\n\(report.failures.joined(separator: "\n"))")
            #expect(report.cells == AccessPolicy.routes.count * Role.allCases.count * 2)
            #expect(report.expected["2xx", default: 0] > 100 && report.expected["403", default: 0] > 100
                        && report.expected["404", default: 0] > 50, "\(report.expected)")
            print("access matrix through the router: \(report.cells) cells in \(ContinuousClock.now - started), expected \(report.expected.sorted { $0.key < $1.key })")
        }
    }

    @Test func aRequestWithoutCredentialsIsRefusedWithAJSONBodyThatSaysWhy() async throws {
        try await InProcessAPI.run { api, _ in
            let (status, body) = try await api.request("GET", "/api/v1/rules", body: nil, headers: [:])
            #expect(status == 401)
            let error = try #require((try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["error"] as? [String: Any])
            #expect(error["code"] as? String == "unauthorized", "\(body)")
            let (health, _) = try await api.request("GET", "/healthz", body: nil, headers: [:])
            #expect(health == 200, "the router answers /healthz with its database and broker")
        }
    }
}
