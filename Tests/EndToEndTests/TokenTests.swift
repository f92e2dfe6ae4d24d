import AltoModels
import AltoTestSupport
import Crypto
import Foundation
import Testing

/// Credentials that must not work: expired, tampered with, signed with another key or for another audience,
/// revoked, ended by logout, or an agent's token used for a host that is not its own; and a password guesser
/// slowed down, with every attempt in the audit trail.
@Suite(.timeLimit(.minutes(5))) struct TokenTests {
    static let sessionKey = "token-tests-session-key-of-forty-characters"

    @Test func noServiceRunsWithAKnownSecret() async throws {
        let suite = try await RunningSuite(["alto-api"], environment: ["ALTO_ADMIN_TOKEN": ""])
        try await suite.whileRunning {
            let (status, _) = try await suite.send("GET", suite.apiURL + "/api/v1/customers", body: nil,
                                                   headers: ["Authorization": "Bearer alto-dev-admin"])
            #expect(status == 401, "without ALTO_ADMIN_TOKEN there is no admin token, the old default included")
            for (executable, variable, value) in [("alto-api", "ALTO_SESSION_KEY", "change-me-to-a-long-random-secret"),
                                                  ("alto-ingest", "ALTO_AUDIT_KEY", "change-me-to-another-long-random-secret"),
                                                  ("alto-api", "ALTO_ADMIN_TOKEN", "alto-dev-admin")] {
                let (exit, output) = try await ServiceProcess.run(executable, arguments: [],
                                                                  environment: suite.environment.merging([variable: value]) { _, new in new },
                                                                  timeout: .seconds(60))
                #expect(exit != 0, "\(executable) refuses \(variable)=\(value)")
                #expect(output.contains(variable), "and says which setting: \(output)")
            }
        }
    }

    @Test func sessionsAPITokensAndAgentTokensThatMustNotWork() async throws {
        let suite = try await RunningSuite(["alto-api"], environment: ["ALTO_SESSION_KEY": Self.sessionKey, "ALTO_LOGIN_MAX_FAILURES": "3"])
        try await suite.whileRunning {
            let (customer, host, agentToken) = try await suite.enrol("tokens-\(suite.run)")
            let (_, otherHost, _) = try await suite.enrol("others-\(suite.run)")
            struct Created: Decodable { var id: UUID }
            let sibling: Created = try await suite.post("/api/v1/customers/\(customer)/hosts", ["hostname": "sibling"], customer: customer)
            let email = "viewer-\(suite.run)@example.com"
            let _: Created = try await suite.post("/api/v1/users", ["email": email, "password": "a long enough password", "role": "viewer"],
                                                  customer: customer)

            func get(_ path: String, _ token: String) async throws -> Int {
                let (status, _) = try await suite.send("GET", suite.apiURL + path, body: nil, headers: ["Authorization": "Bearer \(token)"])
                return status
            }
            func login(_ password: String) async throws -> (status: Int, token: String?) {
                try await suite.signIn(email: email, password: password)
            }

            // Sessions.
            let (status, session) = try await login("a long enough password")
            #expect(status == 201)
            let token = try #require(session)
            #expect(try await get("/api/v1/rules", token) == 200)
            let claims = try #require(Self.claims(of: token))
            #expect(try await get("/api/v1/rules", Self.sign(claims)) == 200, "the test signs as the API does, so the refusals below mean something")
            let now = Date().timeIntervalSince1970
            let refused: [(String, String)] = [
                ("expired", Self.sign(claims.merging(["exp": now - 60]) { _, new in new })),
                ("wrong audience", Self.sign(claims.merging(["aud": ["another-api"]]) { _, new in new })),
                ("wrong issuer", Self.sign(claims.merging(["iss": "someone"]) { _, new in new })),
                ("another key", Self.sign(claims, key: "not the key")),
                ("tampered role", Self.tamper(token, claims.merging(["role": "admin"]) { _, new in new })),
                ("unsigned", Self.unsigned(claims)),
                ("garbage", "abc.def.ghi"),
            ]
            for (what, forged) in refused {
                #expect(try await get("/api/v1/rules", forged) == 401, "\(what)")
            }
            // A viewer's session is a viewer's, whatever the token says: a role claim raised with the right key
            // still meets the user's role in the database.
            #expect(try await suite.send("POST", suite.apiURL + "/api/v1/rules", body: Data("{}".utf8), headers: [
                "Authorization": "Bearer \(Self.sign(claims.merging(["role": "admin"]) { _, new in new }))", "Content-Type": "application/json",
            ]).0 == 403)
            #expect(try await suite.send("DELETE", suite.apiURL + "/api/v1/sessions", body: nil, headers: ["Authorization": "Bearer \(token)"]).0 == 204)
            #expect(try await get("/api/v1/rules", token) == 401, "logged out")

            // API tokens: revoked, expired.
            let created = try await suite.send("POST", suite.apiURL + "/api/v1/api-tokens",
                                               body: try JSONSerialization.data(withJSONObject: ["name": "ci", "role": "viewer"]),
                                               headers: RunningSuite.adminHeaders.merging(["Content-Type": "application/json",
                                                                                           "X-Alto-Customer-Id": customer.uuidString]) { _, n in n })
            let apiToken = try #require((try JSONSerialization.jsonObject(with: Data(created.1.utf8)) as? [String: Any])?["token"] as? String)
            let apiTokenID = try #require((try JSONSerialization.jsonObject(with: Data(created.1.utf8)) as? [String: Any])?["id"] as? String)
            #expect(try await get("/api/v1/rules", apiToken) == 200)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                _ = try await postgres.query("UPDATE api_tokens SET expires_at = now() - interval '1 minute' WHERE id = \(UUID(uuidString: apiTokenID)!)", logger: TestServers.logger)
            }
            #expect(try await get("/api/v1/rules", apiToken) == 401, "expired")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                _ = try await postgres.query("UPDATE api_tokens SET expires_at = NULL WHERE id = \(UUID(uuidString: apiTokenID)!)", logger: TestServers.logger)
            }
            #expect(try await get("/api/v1/rules", apiToken) == 200)
            #expect(try await suite.send("DELETE", suite.apiURL + "/api/v1/api-tokens/\(apiTokenID)", body: nil, headers: RunningSuite.adminHeaders.merging(
                ["X-Alto-Customer-Id": customer.uuidString]) { _, n in n }).0 == 204)
            #expect(try await get("/api/v1/rules", apiToken) == 401, "revoked")

            // Agent tokens: only for the agent's own host; rotation keeps the old one for its grace; revocation ends both.
            func heartbeat(_ hostID: UUID, _ token: String) async throws -> Int {
                let (status, _) = try await suite.send("POST", suite.apiURL + "/api/v1/hosts/\(hostID)/heartbeat",
                                                       body: try AltoJSON.encoder().encode(AgentHeartbeat(agentVersion: "t", volumes: [])),
                                                       headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"])
                return status
            }
            #expect(try await heartbeat(host, agentToken) == 200)
            #expect(try await heartbeat(otherHost, agentToken) == 404, "another tenant's host")
            #expect(try await heartbeat(sibling.id, agentToken) == 404, "another host of the same tenant")
            #expect(try await get("/api/v1/rules", agentToken) == 403, "an agent reads no configuration")
            func rotate(grace: Int) async throws -> String {
                let (status, text) = try await suite.send("POST", suite.apiURL + "/api/v1/hosts/\(host)/agent-token",
                                                          body: try JSONSerialization.data(withJSONObject: ["grace_seconds": grace]),
                                                          headers: RunningSuite.adminHeaders.merging(["Content-Type": "application/json",
                                                                                                      "X-Alto-Customer-Id": customer.uuidString]) { _, n in n })
                #expect(status == 201, "\(text)")
                let answer = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
                return try #require(answer?["agent_token"] as? String)
            }
            let second = try await rotate(grace: 600)
            #expect(try await heartbeat(host, agentToken) == 200, "the replaced token works during its grace")
            #expect(try await heartbeat(host, second) == 200)
            let third = try await rotate(grace: 0)
            #expect(try await heartbeat(host, agentToken) == 401)
            #expect(try await heartbeat(host, second) == 401, "no grace")
            #expect(try await heartbeat(host, third) == 200)
            #expect(try await suite.send("DELETE", suite.apiURL + "/api/v1/hosts/\(host)/agent-token", body: nil, headers: RunningSuite.adminHeaders.merging(
                ["X-Alto-Customer-Id": customer.uuidString]) { _, n in n }).0 == 204)
            #expect(try await heartbeat(host, third) == 401, "revoked")

            // Password guessing: three failures, then 429 even for the right password, each attempt audited.
            for _ in 0..<3 { #expect(try await login("wrong password!!").0 == 401) }
            let (throttled, _) = try await login("a long enough password")
            #expect(throttled == 429)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let attempts = try await RunningSuite.count(postgres, """
                    SELECT count(*) FROM audit_log WHERE action = 'session.login' AND actor = 'user:\(email)' AND result IN ('failed', 'throttled')
                    """)
                #expect(attempts == 4)
                let secrets = try await RunningSuite.count(postgres, """
                    SELECT count(*) FROM audit_log WHERE details::text LIKE '%password%' AND details::text LIKE '%long enough%'
                    """)
                #expect(secrets == 0, "no password in the trail")
            }
            #expect(!suite.logs.contains("a long enough password") && !suite.logs.contains(agentToken), "no secret in a log line")
        }
    }

    // MARK: - Tokens as an attacker would make them

    static func claims(of token: String) -> [String: Any]? {
        let parts = token.split(separator: ".")
        guard parts.count == 3, let data = base64URLDecode(String(parts[1])) else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    static func sign(_ claims: [String: Any], key: String = sessionKey) -> String {
        let signingInput = encode(["alg": "HS256", "typ": "JWT", "kid": "alto-session"]) + "." + encode(claims)
        let secret = SymmetricKey(data: SHA256.hash(data: Data(key.utf8)))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: secret)
        return signingInput + "." + base64URL(Data(mac))
    }

    /// A real token with other claims and the original signature.
    static func tamper(_ token: String, _ claims: [String: Any]) -> String {
        let parts = token.split(separator: ".")
        return "\(parts[0]).\(encode(claims)).\(parts[2])"
    }

    static func unsigned(_ claims: [String: Any]) -> String {
        encode(["alg": "none", "typ": "JWT"]) + "." + encode(claims) + "."
    }

    static func encode(_ object: [String: Any]) -> String {
        base64URL((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func base64URLDecode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
