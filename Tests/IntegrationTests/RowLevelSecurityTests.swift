import AltoStore
import AltoTestSupport
import Foundation
import Logging
import PostgresNIO
import Testing

/// Row-level security on its own, as the services' login sees the database: a query that forgets its tenant
/// filter still reaches only the tenant its transaction is bound to, and the audit trail only grows.
@Suite(.timeLimit(.minutes(3))) struct RowLevelSecurityTests {
    struct Tenants {
        var mine: UUID
        var theirs: UUID
        var serviceURL: String
        var ownerURL: String
    }

    /// Two tenants with a host, a target and a rule each, written by the schema's owner.
    func twoTenants() async throws -> Tenants {
        let ownerURL = try await TestServers.freshDatabase()
        let (mine, theirs) = (UUID(), UUID())
        try await TestServers.withPostgres(ownerURL) { client in
            try await Migrator().migrate(on: client, logger: TestServers.logger)
            for (customer, name) in [(mine, "mine"), (theirs, "theirs")] {
                let (host, target) = (UUID(), UUID())
                try await client.query("INSERT INTO customers (id, name) VALUES (\(customer), \(name))", logger: TestServers.logger)
                try await client.query("INSERT INTO hosts (id, customer_id, hostname) VALUES (\(host), \(customer), 'fs')", logger: TestServers.logger)
                try await client.query("""
                    INSERT INTO storage_targets (id, customer_id, name, kind, location) VALUES (\(target), \(customer), 't', 'filesystem', '/t')
                    """, logger: TestServers.logger)
                try await client.query("""
                    INSERT INTO rules (id, customer_id, name, priority, target_id) VALUES (\(UUID()), \(customer), \(name + " rule"), 1, \(target))
                    """, logger: TestServers.logger)
            }
        }
        return Tenants(mine: mine, theirs: theirs, serviceURL: try TestServers.serviceURL(for: ownerURL), ownerURL: ownerURL)
    }

    @Test func aQueryThatForgetsItsTenantFilterSeesAndChangesOnlyItsTenant() async throws {
        let tenants = try await twoTenants()
        let logger = TestServers.logger
        try await TestServers.withPostgres(tenants.serviceURL) { client in
            try await client.withTenant(tenants.mine, logger: logger) { connection in
                // No WHERE customer_id = ... anywhere below: the policy alone keeps the other tenant out.
                let names = try await connection.query("SELECT name FROM rules ORDER BY name", logger: logger).collect().map { try $0.decode(String.self) }
                #expect(names == ["mine rule"])
                let hosts = try await connection.query("SELECT count(*) FROM hosts", logger: logger).collect().first?.decode(Int.self)
                #expect(hosts == 1)
                let renamed = try await connection.query("UPDATE rules SET name = name || ' renamed' RETURNING customer_id", logger: logger)
                    .collect().map { try $0.decode(UUID.self) }
                #expect(renamed == [tenants.mine])
                let customers = try await connection.query("SELECT id FROM customers", logger: logger).collect().map { try $0.decode(UUID.self) }
                #expect(customers == [tenants.mine])
            }
            // Writing a row for another tenant is refused by the policy's check.
            await #expect(throws: PSQLError.self) {
                try await client.withTenant(tenants.mine, logger: logger) { connection in
                    try await connection.query("""
                        INSERT INTO storage_targets (id, customer_id, name, kind, location)
                        VALUES (\(UUID()), \(tenants.theirs), 'planted', 'filesystem', '/planted')
                        """, logger: logger)
                }
            }
            // A query outside any tenant transaction sees no tenant's rows at all.
            let unbound = try await client.query("SELECT count(*) FROM rules", logger: logger).collect().first?.decode(Int.self)
            #expect(unbound == 0)
        }
        try await TestServers.withPostgres(tenants.ownerURL) { owner in
            let theirs = try await owner.query("SELECT name FROM rules WHERE customer_id = \(tenants.theirs)", logger: TestServers.logger).collect().map { try $0.decode(String.self) }
            #expect(theirs == ["theirs rule"], "the other tenant's rule is untouched")
            let planted = try await owner.query("SELECT count(*) FROM storage_targets WHERE name = 'planted'", logger: TestServers.logger).collect().first?.decode(Int.self)
            #expect(planted == 0)
        }
    }

    @Test func everyTableThatHoldsATenantsRowsIsUnderRowLevelSecurity() async throws {
        let tenants = try await twoTenants()
        try await TestServers.withPostgres(tenants.ownerURL) { owner in
            let outside = try await owner.query("""
                SELECT format('%I.%I', namespace.nspname, class.relname) FROM pg_class AS class
                JOIN pg_namespace AS namespace ON namespace.oid = class.relnamespace
                JOIN pg_attribute AS attribute ON attribute.attrelid = class.oid AND attribute.attname = 'customer_id'
                WHERE namespace.nspname IN ('public', 'scan_staging') AND class.relkind IN ('r', 'p')
                  AND NOT (class.relrowsecurity AND class.relforcerowsecurity)
                  AND NOT class.relispartition
                ORDER BY 1
                """, logger: TestServers.logger).collect().map { try $0.decode(String.self) }
            #expect(outside.isEmpty, "tables with a customer_id outside row-level security: \(outside)")
        }
        try await TestServers.withPostgres(tenants.serviceURL) { client in
            let logger = TestServers.logger
            let partition = try await client.query("SELECT scan_staging.ensure_partition(\(tenants.theirs), current_date)", logger: logger)
                .collect().first?.decode(String.self) ?? ""
            await #expect(throws: PSQLError.self, "a tenant's staged rows cannot be read past the policy") {
                try await client.withTenant(tenants.mine, logger: logger) { connection in
                    try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM scan_staging.\(partition)"), logger: logger)
                }
            }
        }
        try await TestServers.withPostgres(tenants.ownerURL) { owner in
            // The partitions that COPY fills take the services' rows but show them none: reads go through raw_scans.
            let partitions = try await owner.query("""
                SELECT count(*) FILTER (WHERE has_table_privilege('alto_service', class.oid, 'SELECT')), count(*)
                FROM pg_class AS class JOIN pg_namespace AS namespace ON namespace.oid = class.relnamespace
                WHERE namespace.nspname = 'scan_staging' AND class.relispartition
                """, logger: TestServers.logger).collect().first?.decode((Int, Int).self)
            #expect(partitions?.0 == 0 && partitions?.1 == 2, "\(String(describing: partitions))")
        }
    }

    @Test func anIdOfAnotherTenantIsRefusedWhereOneTablePointsIntoAnother() async throws {
        let tenants = try await twoTenants()
        let logger = TestServers.logger
        try await TestServers.withPostgres(tenants.ownerURL) { owner in
            func one(_ sql: String) async throws -> String {
                try await owner.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect().first?.decode(String.self) ?? ""
            }
            let theirHost = try await one("SELECT id::text FROM hosts WHERE customer_id = '\(tenants.theirs)'")
            let myHost = try await one("SELECT id::text FROM hosts WHERE customer_id = '\(tenants.mine)'")
            let theirRule = try await one("SELECT id::text FROM rules WHERE customer_id = '\(tenants.theirs)'")
            let theirTarget = try await one("SELECT id::text FROM storage_targets WHERE customer_id = '\(tenants.theirs)'")
            _ = try await one("SELECT inventory.ensure_partition('\(tenants.theirs)', '\(theirHost)')")
            let theirFile = try await one("""
                INSERT INTO file_inventory (customer_id, host_id, file_path, file_size, last_modified, file_extension, permissions, owner)
                VALUES ('\(tenants.theirs)', '\(theirHost)', '/srv/theirs', 1, now(), '', '0644', 'x') RETURNING id::text
                """)
            let theirJob = UUID()
            try await owner.query(PostgresQuery(unsafeSQL: """
                INSERT INTO tiering_jobs (id, customer_id, host_id, rule_id, rule_version, target_id, priority, file_count, total_bytes,
                    estimated_space_saved, estimated_duration_seconds)
                VALUES ('\(theirJob)', '\(tenants.theirs)', '\(theirHost)', '\(theirRule)', 1, '\(theirTarget)', 1, 0, 0, 0, 0)
                """), logger: logger)
            let planted: [(String, String)] = [
                ("a job of mine with their rule and target", """
                    INSERT INTO tiering_jobs (id, customer_id, host_id, rule_id, rule_version, target_id, priority, file_count, total_bytes,
                        estimated_space_saved, estimated_duration_seconds)
                    VALUES ('\(UUID())', '\(tenants.mine)', '\(myHost)', '\(theirRule)', 1, '\(theirTarget)', 1, 0, 0, 0, 0)
                    """),
                ("a file of their job in my name", """
                    INSERT INTO tiering_job_files (job_id, file_id, customer_id, file_path, file_size)
                    VALUES ('\(theirJob)', \(theirFile), '\(tenants.mine)', '/srv/theirs', 1)
                    """),
                ("a stub of mine for their file, target and job", """
                    INSERT INTO stub_registry (customer_id, host_id, file_id, file_path, target_id, tiered_location, hash, size, job_id)
                    VALUES ('\(tenants.mine)', '\(myHost)', \(theirFile), '/srv/theirs', '\(theirTarget)', 'x', 'h', 1, '\(theirJob)')
                    """),
                ("a recall of mine by their rule", """
                    INSERT INTO recall_jobs (id, customer_id, host_id, requested_by, rule_id, file_count)
                    VALUES ('\(UUID())', '\(tenants.mine)', '\(myHost)', 'x', '\(theirRule)', 0)
                    """),
            ]
            for (what, sql) in planted {
                let refusal = await #expect(throws: PSQLError.self, "\(what)") {
                    try await owner.query(PostgresQuery(unsafeSQL: sql), logger: logger)
                }
                #expect(refusal?.serverInfo?[.sqlState] == "23503", "\(what) is refused as a foreign key to nothing: \(String(reflecting: refusal))")
            }
        }
    }

    @Test func theServicesLoginCannotBypassRowLevelSecurityAndAServiceRefusesOneThatCan() async throws {
        let tenants = try await twoTenants()
        try await TestServers.withPostgres(tenants.serviceURL) { client in
            try await DatabaseRole.requireRowLevelSecurity(on: client, logger: TestServers.logger)
            await #expect(throws: PSQLError.self) {
                try await client.query("ALTER TABLE rules DISABLE ROW LEVEL SECURITY", logger: TestServers.logger)
            }
            await #expect(throws: PSQLError.self) {
                try await client.query("SET ROLE alto", logger: TestServers.logger)
            }
        }
        try await TestServers.withPostgres(tenants.ownerURL) { owner in
            let refusal = await #expect(throws: StoreError.self) {
                try await DatabaseRole.requireRowLevelSecurity(on: owner, logger: TestServers.logger)
            }
            #expect(refusal?.description.contains("bypasses row-level security") == true)
        }
    }

    @Test func theAuditTrailOnlyGrowsAndVerifyFindsARowChangedBehindItsBack() async throws {
        let tenants = try await twoTenants()
        let logger = TestServers.logger
        let trail = AuditTrail(secret: "test audit key")
        try await TestServers.withPostgres(tenants.serviceURL) { client in
            for index in 0..<5 {
                try await client.withTenant(tenants.mine, logger: logger) { connection in
                    try await trail.append([AuditRecord(actor: "user:a@example.com", action: "rule.update", target: "rule/\(index)",
                                                        details: ["name": "ü \"quoted\"", "n": String(index)])],
                                           customerID: tenants.mine, on: connection, logger: logger)
                }
            }
            try await client.withTenant(tenants.theirs, logger: logger) { connection in
                try await trail.append([AuditRecord(actor: "user:b@example.com", action: "rule.create", target: "rule/b")],
                                       customerID: tenants.theirs, on: connection, logger: logger)
            }
            let intact = try await client.acrossTenants(logger: logger) { try await trail.verify(allChains: true, on: $0, logger: logger) }
            #expect(intact.isIntact, "\(intact.problems)")
            #expect(intact.checkedRows == 6)
            #expect(intact.heads[tenants.mine.uuidString.lowercased()]?.seq == 5)
            // The services' login may append, never change or remove.
            for statement in ["UPDATE audit_log SET result = 'forged'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
                await #expect(throws: PSQLError.self, "\(statement)") {
                    try await client.acrossTenants(logger: logger) { connection in
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                }
            }
            // A key that is not the chain's finds every row wrong.
            let forger = AuditTrail(secret: "another key")
            let forged = try await client.acrossTenants(logger: logger) { try await forger.verify(allChains: true, on: $0, logger: logger) }
            #expect(forged.problems.count == 6, "no row checks out under another key")
        }
        // A superuser can edit and delete behind the trigger's back; the chain shows where.
        try await TestServers.withPostgres(tenants.ownerURL) { owner in
            try await owner.query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only", logger: TestServers.logger)
            try await owner.query("UPDATE audit_log SET result = 'denied' WHERE customer_id = \(tenants.mine) AND seq = 2", logger: TestServers.logger)
            try await owner.query("DELETE FROM audit_log WHERE customer_id = \(tenants.mine) AND seq = 4", logger: TestServers.logger)
            let report = try await trail.verify(allChains: true, on: owner, logger: logger)
            let problems = report.problems.map { "\($0.seq ?? -1): \($0.problem)" }
            #expect(problems == ["2: its fields were changed after it was written", "5: rows 4...4 are missing"], "\(problems)")
        }
    }
}
