import AltoModels
import AltoTestSupport
import AltoTiering
import Foundation
import PostgresNIO
import Testing

/// The registry lost its rows (a database restored from an old backup): the sanitizer rebuilds them from the
/// copies' descriptions, which each copy's host reads and authenticates under the tenant's key. A stub still there
/// makes its row active, one a user deleted makes it deleted (the copy kept for the retention window), and a
/// description in the clear that no stub vouches for rebuilds nothing: its copy goes as an orphan.
@Suite(.timeLimit(.minutes(5))) struct RegistryRebuildTests {
    let faults = TieringFaultTests()
    let reconciliation = ReconciliationTests()

    @Test func lostRegistryRowsAreRebuiltFromTierTwo() async throws {
        let (suite, data, tier2, originals) = try await reconciliation.startWithSanitizer(files: 4, bytes: 200_000)
        try await suite.whileRunning {
            let tenant = try await faults.makeTenant(suite, data: data, tier2: tier2, target: [
                "name": "tier2", "kind": "filesystem", "location": tier2.path, "settings": ["orphan_grace_hours": "0"],
            ])
            try await faults.startAgentAndScan(suite, tenant, data: data)
            let registry = """
                SELECT file_path, tiered_location, hash, size, coalesce(wrapped_key, ''), coalesce(stored_bytes, -1), state
                FROM stub_registry ORDER BY file_path
                """
            typealias Row = (String, String, String, Int64, String, Int64, String)
            let before: [Row] = try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("every file is a stub", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'active'") == originals.count
                }
                return try await postgres.query(PostgresQuery(unsafeSQL: registry), logger: TestServers.logger).collect().map { try $0.decode(Row.self) }
            }
            let paths = originals.keys.sorted()
            let records = try paths.map { try #require(try StubFile.record(at: $0)) }
            #expect(records.allSatisfy { $0.encryption != nil }, "the copies are sealed")

            // A copy planted with a description in the clear, naming a file of this host that no stub is.
            let folder = String(records[0].location[..<(records[0].location.lastIndex(of: "/") ?? records[0].location.endIndex)])
            let forged = folder + "/999999-forged.bin"
            try Data("not anyone's file".utf8).write(to: URL(fileURLWithPath: forged))
            let description = CopyDescription(
                customerID: tenant.customer, hostID: tenant.host, targetID: tenant.target, fileID: 999_999,
                originalPath: PathEncoding.encode(Array(data.appendingPathComponent("forged.txt").path.utf8)), size: 17,
                modified: .init(seconds: 0, nanoseconds: 0), accessed: .init(seconds: 0, nanoseconds: 0), mode: 0o4755, uid: 0, gid: 0,
                hash: "sha256:" + String(repeating: "0", count: 64), storedBytes: 17, storedHash: "sha256:" + String(repeating: "0", count: 64),
                compression: nil, encryption: nil, tieredAt: Date())
            try Data(description.encoded()).write(to: URL(fileURLWithPath: CopyDescription.location(describing: forged)))
            _ = try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await postgres.query("DELETE FROM stub_registry", logger: TestServers.logger)
            }
            try FileManager.default.removeItem(atPath: paths[3])

            _ = try await reconciliation.reconcile(suite, tenant, scope: "host")
            let orphans = try await reconciliation.findings(suite, tenant, query: "?kind=orphan")
            #expect(orphans.count == 10, "every copy and description is an orphan to a registry that lost its rows: \(orphans)")

            _ = try await reconciliation.reconcile(suite, tenant, scope: "host")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let after = try await postgres.query(PostgresQuery(unsafeSQL: registry), logger: TestServers.logger).collect().map { try $0.decode(Row.self) }
                #expect(after.count == 4, "one row for each genuine copy, none for the forged one: \(after)")
                for (old, new) in zip(before, after) {
                    #expect(old.0 == new.0 && old.1 == new.1 && old.2 == new.2 && old.3 == new.3 && old.4 == new.4 && old.5 == new.5,
                            "the rebuilt row is the lost one: \(old) \(new)")
                    #expect(new.6 == (new.0 == paths[3] ? "deleted" : "active"), "a deleted stub's row is rebuilt as deleted: \(new)")
                }
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE action = 'registry.rebuild'") == 4)
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE stub_handle IS NOT NULL") == 3,
                        "the stubs still there have their handles again")
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM findings WHERE rebuild_refused IS NOT NULL") == 1)
            }
            let open = try await reconciliation.findings(suite, tenant, query: "?state=open")
            #expect(Set(open.map(\.location)) == [forged, CopyDescription.location(describing: forged)], "only the forged copy is left: \(open)")
            #expect(FileManager.default.fileExists(atPath: forged), "its deletion waits for the run after its refusal")

            _ = try await reconciliation.reconcile(suite, tenant, scope: "host")
            #expect(!FileManager.default.fileExists(atPath: forged) && !FileManager.default.fileExists(atPath: CopyDescription.location(describing: forged)),
                    "a copy whose description rebuilds nothing goes as an orphan, with its description")
            #expect(try await reconciliation.findings(suite, tenant, query: "?state=open").isEmpty)
            #expect(FileManager.default.fileExists(atPath: records[3].location), "a deleted stub's copy is kept")
            for path in paths.prefix(3) {
                let (status, output) = try await ServiceProcess.run("alto-agent", arguments: ["recall", path], environment: tenant.agentEnvironment)
                #expect(status == 0, "\(output)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == originals[path], "\(path) recalls to its original bytes")
            }
        }
    }
}
