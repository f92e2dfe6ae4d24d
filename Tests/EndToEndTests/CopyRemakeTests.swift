import AltoModels
import AltoTestSupport
import AltoTiering
import Foundation
import PostgresNIO
import Testing

/// A stub whose copy was found damaged is made whole from another copy of the same content (a duplicate file's):
/// the copy is written again where the stub looks, under the stub's own data key, the stub is no longer at risk and
/// recalls to its original bytes. A stub whose content has no other copy stays at risk.
@Suite(.timeLimit(.minutes(5))) struct CopyRemakeTests {
    let faults = TieringFaultTests()
    let reconciliation = ReconciliationTests()

    @Test func aDamagedCopyIsMadeAgainFromADuplicatesCopy() async throws {
        let (suite, data, tier2, originals) = try await reconciliation.startWithSanitizer(files: 3, bytes: 200_000)
        let paths = originals.keys.sorted()
        let duplicate = data.appendingPathComponent("a copy of the first.bin")
        try #require(originals[paths[0]]).write(to: duplicate)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -90 * 86_400)], ofItemAtPath: duplicate.path)
        try await suite.whileRunning {
            let tenant = try await faults.makeTenant(suite, data: data, tier2: tier2, target: [
                "name": "tier2", "kind": "filesystem", "location": tier2.path,
            ])
            try await faults.startAgentAndScan(suite, tenant, data: data)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("every file is a stub", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'active'") == originals.count + 1
                }
            }
            let records = try paths.map { try #require(try StubFile.record(at: $0)) }
            let hands = ReconciliationTests.folder { $0 }
            try await hands.flip(records[0].location, 5000)
            try await hands.remove(records[1].location)

            _ = try await reconciliation.reconcile(suite, tenant, scope: "host")
            let found = try await reconciliation.findings(suite, tenant)
            #expect(Set(found.map(\.kind)) == ["hash_drift", "missing_copy"], "\(found)")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let atRisk = try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE at_risk")
                #expect(atRisk == 2, "the damaged and the missing copy's stubs are at risk")
            }

            _ = try await reconciliation.reconcile(suite, tenant, scope: "host")
            let after = try await reconciliation.findings(suite, tenant)
            let damage = try #require(after.first { $0.kind == "hash_drift" })
            #expect(damage.state == "repaired", "the damaged copy was made again: \(after)")
            #expect(after.first { $0.kind == "missing_copy" }?.state == "open", "a copy of content nothing else has cannot be made again")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let atRisk = try await postgres.query("SELECT file_path FROM stub_registry WHERE at_risk", logger: TestServers.logger)
                    .collect().map { try $0.decode(String.self) }
                #expect(atRisk == [paths[1]], "only the stub with no copy left is at risk")
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE action = 'copy.remake' AND result = 'remade'") == 1)
            }
            let stub = try StubFile.record(at: paths[0])
            #expect(stub == records[0], "the stub is as it was")
            let (status, output) = try await ServiceProcess.run("alto-agent", arguments: ["recall", paths[0]], environment: tenant.agentEnvironment)
            #expect(status == 0, "\(output)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: paths[0])) == originals[paths[0]], "it recalls to its original bytes")
        }
    }
}
