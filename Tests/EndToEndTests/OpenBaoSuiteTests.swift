import AltoKeys
import AltoTestSupport
import AltoTiering
import Foundation
import PostgresNIO
import Testing

/// The suite with `ALTO_KEY_PROVIDER=vault` against a real OpenBao: the central services hold the services' policy,
/// the agent a token for its own tenant's key only. Cold files are tiered with OpenBao data keys, a key rotation
/// rewraps the stored credentials and the data keys, and the copies recall to their original bytes.
@Suite(.timeLimit(.minutes(5))) struct OpenBaoSuiteTests {
    @Test func copiesSealedWithOpenBaoDataKeysRecallAfterARotation() async throws {
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("alto-openbao-\(UUID().uuidString)")
        let bao = try await OpenBaoServer(logFolder: logs)
        defer {
            bao.stop()
            try? FileManager.default.removeItem(at: logs)
        }
        let servicesToken = try await bao.token(policy: OpenBaoServer.servicePolicy, name: "alto-services")
        let vault = ["ALTO_KEY_PROVIDER": "vault", "ALTO_VAULT_ADDR": bao.address, "ALTO_VAULT_TOKEN": servicesToken]
        let suite = try await RunningSuite(["alto-api", "alto-ingest", "alto-planner", "alto-actor"], environment: vault)
        try await suite.whileRunning {
            let (customer, host, token) = try await suite.enrol("openbao-\(suite.run)")
            let data = suite.work.appendingPathComponent("data")
            let tier2 = suite.work.appendingPathComponent("tier2")
            try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: tier2, withIntermediateDirectories: true)
            var originals: [String: Data] = [:]
            for (index, size) in [3 << 20, 700_001, 65_536].enumerated() {
                let path = data.appendingPathComponent("ledger-\(index).bin").path
                let content = Data((0..<size).map { _ in UInt8.random(in: 0...255) })
                try content.write(to: URL(fileURLWithPath: path))
                var times = [timespec(tv_sec: 1_500_000_000, tv_nsec: 0), timespec(tv_sec: 1_500_000_000, tv_nsec: 0)]
                #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
                originals[path] = content
            }
            struct Created: Decodable { var id: UUID; var secrets: [String]? }
            let target: Created = try await suite.post("/api/v1/storage-targets", ["name": "tier2", "kind": "filesystem", "location": tier2.path],
                                                       customer: customer)
            let _: Created = try await suite.post("/api/v1/storage-targets", [
                "name": "archive", "kind": "s3", "location": "s3://alto-archive/tier2",
                "settings": ["access_key_id": "AKIDEXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG"],
            ], customer: customer)
            let _: Created = try await suite.post("/api/v1/rules", [
                "name": "cold", "priority": 1, "path_globs": ["\(data.path)/**"], "min_days_since_modified": 180,
                "target_id": target.id.uuidString,
            ] as [String: any Sendable], customer: customer)

            let agentToken = try await bao.token(policy: OpenBaoServer.agentPolicy(tenant: customer), name: "alto-agent-\(suite.run)")
            let agentEnvironment = suite.agentEnvironment(customer: customer, host: host, token: token)
                .merging(vault.merging(["ALTO_VAULT_TOKEN": agentToken, "ALTO_AGENT_SCAN_ROOTS": data.path]) { _, new in new }) { _, new in new }
            try await suite.launch("alto-agent", arguments: ["run"], environment: agentEnvironment)
            let (scanStatus, scanOutput) = try await ServiceProcess.run("alto-agent", arguments: ["scan", data.path], environment: agentEnvironment)
            #expect(scanStatus == 0, "\(scanOutput)")

            let services = VaultTransitProvider(address: bao.address, token: servicesToken)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("the cold files are stubs", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'active'") == originals.count
                }
                let secret = try await postgres.query("SELECT secrets->>'secret_access_key' FROM storage_targets WHERE name = 'archive'",
                                                      logger: TestServers.logger).collect().first?.decode(String.self) ?? ""
                #expect(secret.hasPrefix("vault:v1:") && !secret.contains("wJalrXUtnFEMI"), "the credential is sealed by OpenBao: \(secret)")
                for (path, content) in originals {
                    let record = try #require(try StubFile.record(at: path))
                    let encryption = try #require(record.encryption)
                    #expect(encryption.provider == "vault" && encryption.wrappedKey.hasPrefix("vault:v1:"))
                    let key = try await services.unwrapDataKey(encryption.wrappedKey, tenant: customer)
                    let copy = Array(try Data(contentsOf: URL(fileURLWithPath: record.location)))
                    #expect(copy.count > content.count / 2, "the copy of random bytes is about their size")
                    _ = try SealedStream.open(copy, key: key)
                }

                let (status, text) = try await suite.send("POST", suite.apiURL + "/api/v1/keys/rotate", body: nil,
                                                          headers: RunningSuite.adminHeaders.merging(["X-Alto-Customer-Id": customer.uuidString]) { _, n in n })
                #expect(status == 200, "\(text)")
                let answer = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Int]
                #expect(answer == ["key_version": 2, "rewrapped_secrets": 1, "rewrapped_data_keys": originals.count])
                let wrapped = try await postgres.query("SELECT wrapped_key FROM stub_registry", logger: TestServers.logger).collect()
                    .map { try $0.decode(String.self) }
                #expect(wrapped.count == originals.count && wrapped.allSatisfy { $0.hasPrefix("vault:v2:") }, "\(wrapped)")
            }
            for (path, content) in originals.sorted(by: { $0.key < $1.key }) {
                let (status, output) = try await ServiceProcess.run("alto-agent", arguments: ["recall", path], environment: agentEnvironment)
                #expect(status == 0, "\(output)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == content, "\(path) has its original bytes")
            }
        }
    }
}
