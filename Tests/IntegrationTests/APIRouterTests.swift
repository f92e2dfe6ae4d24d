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
            let report = try await AccessMatrix.check(try await AccessWorld(api, run: backends.run, databaseURL: backends.databaseURL))
            #expect(report.failures.isEmpty, "\(report.failures.count) of \(report.cells) cells:\n\(report.failures.joined(separator: "\n"))")
            #expect(report.gaps.isEmpty, "\(report.gaps)")
            print("access matrix through the router: \(report.summary), in \(ContinuousClock.now - started)")
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

/// Storage targets as the API checks them against their kind's description, through the router.
@Suite(.timeLimit(.minutes(3))) struct StorageTargetRouterTests {
    @Test func aTargetIsCheckedAgainstItsKindAndItsCredentialsAreKeptApart() async throws {
        try await InProcessAPI.run { api, backends in
            let admin = ["Authorization": "Bearer \(TestBackends.adminToken)", "Content-Type": "application/json"]
            func json(_ object: [String: any Sendable]) throws -> Data { try JSONSerialization.data(withJSONObject: object) }
            func answer(_ text: String) -> [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:] }
            let (created, customer) = try await api.request("POST", "/api/v1/customers", body: try json(["name": "kinds \(backends.run)"]),
                                                            headers: admin)
            #expect(created == 201, "\(customer)")
            let tenant = admin.merging(["X-Alto-Customer-Id": answer(customer)["id"] as? String ?? ""]) { _, new in new }
            func post(_ body: [String: any Sendable]) async throws -> (Int, [String: Any]) {
                let (status, text) = try await api.request("POST", "/api/v1/storage-targets", body: try json(body), headers: tenant)
                return (status, answer(text))
            }
            func field(_ answer: [String: Any]) -> String? { (answer["error"] as? [String: Any])?["field"] as? String }

            let (unknownKind, unknownKindAnswer) = try await post(["name": "ftp", "kind": "ftp", "location": "ftp://nas/tier2"])
            #expect(unknownKind == 400 && field(unknownKindAnswer) == "kind", "\(unknownKindAnswer)")
            let (badLocation, badLocationAnswer) = try await post(["name": "s3", "kind": "s3", "location": "s3://No_Such",
                                                                   "settings": ["access_key_id": "AKID", "secret_access_key": "x"]])
            #expect(badLocation == 400 && field(badLocationAnswer) == "location", "\(badLocationAnswer)")
            let (unknownSetting, unknownSettingAnswer) = try await post(["name": "nas", "kind": "smb", "location": "//nas/tier2",
                                                                         "settings": ["username": "alto", "password": "x", "pasword": "y"]])
            #expect(unknownSetting == 400 && field(unknownSettingAnswer) == "settings.pasword", "\(unknownSettingAnswer)")
            let (noPassword, noPasswordAnswer) = try await post(["name": "nas", "kind": "smb", "location": "//nas/tier2",
                                                                 "settings": ["username": "alto"]])
            #expect(noPassword == 400 && field(noPasswordAnswer) == "settings.password", "\(noPasswordAnswer)")

            let (saved, target) = try await post(["name": "nas", "kind": "smb", "location": "//nas/tier2",
                                                  "settings": ["username": "alto", "password": "secret"]])
            #expect(saved == 201, "\(target)")
            #expect(target["settings"] as? [String: String] == ["username": "alto"], "the password is not shown")
            #expect(target["secrets"] as? [String] == ["password"])
            let id = target["id"] as? String ?? ""
            let (updated, updatedText) = try await api.request("PUT", "/api/v1/storage-targets/\(id)", body: try json([
                "name": "nas", "kind": "smb", "location": "//nas/tier2/moved", "settings": ["username": "alto"],
            ]), headers: tenant)
            #expect(updated == 200, "an update keeps the password it does not send: \(updatedText)")
            #expect(answer(updatedText)["secrets"] as? [String] == ["password"])
        }
    }
}
