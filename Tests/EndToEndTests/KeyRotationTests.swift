import AltoKeys
import AltoTestSupport
import Foundation
import PostgresNIO
import Testing

/// A storage target's credentials are stored encrypted with the tenant's key, and rotating the key rewraps them
/// and every data key of the tenant's copies to the new version, leaving what they wrap the same.
@Suite(.timeLimit(.minutes(5))) struct KeyRotationTests {
    @Test func credentialsAreEncryptedAtRestAndRotationRewrapsThemAndTheDataKeys() async throws {
        let suite = try await RunningSuite(["alto-api"])
        try await suite.whileRunning {
            let (customer, host, _) = try await suite.enrol("keys-\(suite.run)")
            struct Created: Decodable { var id: UUID; var secrets: [String] }
            let target: Created = try await suite.post("/api/v1/storage-targets", [
                "name": "archive", "kind": "s3", "location": "s3://alto-archive/tier2",
                "settings": ["access_key_id": "AKIDEXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG"],
            ], customer: customer)
            #expect(target.secrets == ["secret_access_key"])
            let keys = LocalKeyProvider(folder: URL(fileURLWithPath: try #require(suite.environment["ALTO_KEY_DIR"])))
            let dataKey = try await keys.generateDataKey(tenant: customer)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                func storedSecret() async throws -> String {
                    let rows = try await postgres.query("SELECT secrets->>'secret_access_key' FROM storage_targets WHERE id = \(target.id)", logger: TestServers.logger).collect()
                    return try rows.first?.decode(String.self) ?? ""
                }
                let sealed = try await storedSecret()
                #expect(sealed.hasPrefix("alto:v1:") && !sealed.contains("wJalrXUtnFEMI"), "\(sealed)")
                _ = try await postgres.query("""
                    INSERT INTO stub_registry (customer_id, host_id, file_path, tiered_location, hash, size, wrapped_key)
                    VALUES (\(customer), \(host), '/srv/a.bin', '/tier2/a.bin', 'sha256:00', 1, \(dataKey.wrapped))
                    """, logger: TestServers.logger)

                let (status, text) = try await suite.send("POST", suite.apiURL + "/api/v1/keys/rotate", body: nil,
                                                          headers: RunningSuite.adminHeaders.merging(["X-Alto-Customer-Id": customer.uuidString]) { _, n in n })
                #expect(status == 200, "\(text)")
                let answer = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Int]
                #expect(answer == ["key_version": 2, "rewrapped_secrets": 1, "rewrapped_data_keys": 1])

                let rewrapped = try await storedSecret()
                #expect(rewrapped.hasPrefix("alto:v2:"))
                #expect(try await keys.decrypt(rewrapped, tenant: customer) == Array("wJalrXUtnFEMI/K7MDENG".utf8))
                let wrappedKey = try await postgres.query("SELECT wrapped_key FROM stub_registry WHERE file_path = '/srv/a.bin'", logger: TestServers.logger).collect()
                    .first?.decode(String.self) ?? ""
                #expect(wrappedKey.hasPrefix("alto:v2:"))
                #expect(try await keys.unwrapDataKey(wrappedKey, tenant: customer) == dataKey.key, "the data key itself is unchanged")
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE action = 'key.rotate'") == 1)
            }
        }
    }
}
