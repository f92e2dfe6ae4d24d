import AltoStore
import AltoTestSupport
import PostgresNIO
import Testing

@Suite(.timeLimit(.minutes(3))) struct MigrationTests {
    @Test func appliesToAnEmptyDatabaseAndASecondRunIsANoOp() async throws {
        let url = try await TestServers.freshDatabase()
        try await TestServers.withPostgres(url) { client in
            let first = try await Migrator().migrate(on: client, logger: TestServers.logger)
            #expect(first == Migrator.bundledMigrations.map(\.version))
            #expect(!first.isEmpty)
            let second = try await Migrator().migrate(on: client, logger: TestServers.logger)
            #expect(second.isEmpty)
            var tables: [String] = []
            for try await name in try await client.query("""
                SELECT table_schema || '.' || table_name FROM information_schema.tables
                WHERE table_schema IN ('public', 'scan_staging') ORDER BY 1
                """, logger: TestServers.logger).decode(String.self) {
                tables.append(name)
            }
            for expected in ["public.customers", "public.hosts", "public.storage_targets", "public.rules",
                             "public.file_inventory", "public.tiering_jobs", "public.tiering_job_files",
                             "public.stub_registry", "public.audit_log", "scan_staging.raw_scans"] {
                #expect(tables.contains(expected), "missing \(expected)")
            }
        }
    }

    @Test func inventoryRowsBelongToAnEnrolledHostOfTheirOwnCustomer() async throws {
        let url = try await TestServers.freshDatabase()
        try await TestServers.withPostgres(url) { client in
            try await Migrator().migrate(on: client, logger: TestServers.logger)
            let (mine, theirs, host) = (UUID(), UUID(), UUID())
            try await client.query("INSERT INTO customers (id, name) VALUES (\(mine), 'mine'), (\(theirs), 'theirs')", logger: TestServers.logger)
            try await client.query("INSERT INTO hosts (id, customer_id, hostname) VALUES (\(host), \(mine), 'fs')", logger: TestServers.logger)
            try await client.query("SELECT inventory.ensure_partition(\(mine), \(host))", logger: TestServers.logger)
            try await client.query("""
                INSERT INTO file_inventory (customer_id, host_id, file_path, file_size, last_modified) VALUES (\(mine), \(host), '/ok', 1, now())
                """, logger: TestServers.logger)
            await #expect(throws: (any Error).self) {
                try await client.query("""
                    INSERT INTO file_inventory (customer_id, host_id, file_path, file_size, last_modified) VALUES (\(theirs), \(host), '/x', 1, now())
                    """, logger: TestServers.logger)
            }
            await #expect(throws: (any Error).self) { try await client.query("UPDATE file_inventory SET customer_id = \(theirs)", logger: TestServers.logger) }
            await #expect(throws: (any Error).self) { try await client.query("UPDATE hosts SET customer_id = \(theirs)", logger: TestServers.logger) }
            await #expect(throws: (any Error).self) { try await client.query("DELETE FROM hosts", logger: TestServers.logger) }
            for try await count in try await client.query("SELECT count(*) FROM file_inventory WHERE customer_id = \(mine)", logger: TestServers.logger).decode(Int.self) {
                #expect(count == 1)
            }
        }
    }

    @Test func jobFilesStubsAndRecallsNameAFileOfTheirOwnCustomer() async throws {
        let url = try await TestServers.freshDatabase()
        try await TestServers.withPostgres(url) { client in
            try await Migrator().migrate(on: client, logger: TestServers.logger)
            let logger = TestServers.logger
            let (mine, theirs, host, theirHost, target, rule, job) = (UUID(), UUID(), UUID(), UUID(), UUID(), UUID(), UUID())
            try await client.query("INSERT INTO customers (id, name) VALUES (\(mine), 'mine'), (\(theirs), 'theirs')", logger: logger)
            try await client.query("""
                INSERT INTO hosts (id, customer_id, hostname) VALUES (\(host), \(mine), 'fs'), (\(theirHost), \(theirs), 'fs')
                """, logger: logger)
            try await client.query("""
                INSERT INTO storage_targets (id, customer_id, name, kind, location) VALUES (\(target), \(mine), 't', 'filesystem', '/t')
                """, logger: logger)
            try await client.query("INSERT INTO rules (id, customer_id, name, priority, target_id) VALUES (\(rule), \(mine), 'r', 1, \(target))",
                                   logger: logger)
            try await client.query("""
                INSERT INTO tiering_jobs (id, customer_id, host_id, rule_id, target_id, priority, file_count, total_bytes,
                    estimated_space_saved, estimated_duration_seconds)
                VALUES (\(job), \(mine), \(host), \(rule), \(target), 1, 1, 1, 1, 1)
                """, logger: logger)
            try await client.query("SELECT inventory.ensure_partition(\(mine), \(host)), inventory.ensure_partition(\(theirs), \(theirHost))",
                                   logger: logger)
            try await client.query("""
                INSERT INTO file_inventory (customer_id, host_id, file_path, file_size, last_modified)
                VALUES (\(mine), \(host), '/mine', 1, now()), (\(theirs), \(theirHost), '/theirs', 1, now())
                """, logger: logger)
            func fileID(_ path: String) async throws -> Int64 {
                for try await id in try await client.query("SELECT id FROM file_inventory WHERE file_path = \(path)", logger: logger).decode(Int64.self) {
                    return id
                }
                throw TestFailure("no inventory row \(path)")
            }
            let (myFile, theirFile) = (try await fileID("/mine"), try await fileID("/theirs"))
            func addJobFile(job: UUID, file: Int64, path: String = "/mine") async throws {
                try await client.query("""
                    INSERT INTO tiering_job_files (job_id, file_id, customer_id, file_path, file_size) VALUES (\(job), \(file), \(mine), \(path), 1)
                    """, logger: logger)
            }
            func expectForeignKeyViolation(_ what: String, _ statement: () async throws -> Void) async {
                let refusal = await #expect(throws: PSQLError.self, "\(what)") { try await statement() }
                #expect(refusal?.serverInfo?[.sqlState] == "23503", "\(what) is refused as a foreign key: \(String(reflecting: refusal))")
            }
            await expectForeignKeyViolation("a file of another tenant") { try await addJobFile(job: job, file: theirFile, path: "/theirs") }
            await expectForeignKeyViolation("a job that does not exist") { try await addJobFile(job: UUID(), file: myFile) }
            let otherHost = UUID()
            try await client.query("INSERT INTO hosts (id, customer_id, hostname) VALUES (\(otherHost), \(mine), 'fs2')", logger: logger)
            try await client.query("SELECT inventory.ensure_partition(\(mine), \(otherHost))", logger: logger)
            try await client.query("""
                INSERT INTO file_inventory (customer_id, host_id, file_path, file_size, last_modified)
                VALUES (\(mine), \(otherHost), '/other', 1, now())
                """, logger: logger)
            let otherHostsFile = try await fileID("/other")
            await expectForeignKeyViolation("a file of another host of the job's tenant") {
                try await addJobFile(job: job, file: otherHostsFile, path: "/other")
            }
            await expectForeignKeyViolation("a statement of which one row names another host's file") {
                try await client.query("""
                    INSERT INTO tiering_job_files (job_id, file_id, customer_id, file_path, file_size)
                    VALUES (\(job), \(myFile), \(mine), '/mine', 1), (\(job), \(otherHostsFile), \(mine), '/other', 1)
                    """, logger: logger)
            }
            try await addJobFile(job: job, file: myFile)
            await expectForeignKeyViolation("moved to another tenant's file") {
                try await client.query("UPDATE tiering_job_files SET file_id = \(theirFile)", logger: logger)
            }
            try await client.query("UPDATE tiering_job_files SET state = 'tiered'", logger: logger)
            let deletable = try await client.query("""
                SELECT has_table_privilege('alto_service', 'file_inventory', 'DELETE') OR has_table_privilege('alto_service', 'file_inventory', 'TRUNCATE')
                """, logger: logger).collect().first?.decode(Bool.self)
            #expect(deletable == false, "the services may not delete inventory rows")
            await expectForeignKeyViolation("a file a job names is deleted") {
                try await client.query("DELETE FROM file_inventory WHERE id = \(myFile)", logger: logger)
            }
            func addStub(file: Int64) async throws {
                try await client.query("""
                    INSERT INTO stub_registry (customer_id, host_id, file_id, file_path, tiered_location, hash, size)
                    VALUES (\(mine), \(host), \(file), '/p', 'tier2/p', 'h', 1)
                    """, logger: logger)
            }
            await expectForeignKeyViolation("a stub of another tenant's file") { try await addStub(file: theirFile) }
            try await addStub(file: myFile)
            let recall = UUID()
            try await client.query("""
                INSERT INTO recall_jobs (id, customer_id, host_id, requested_by, file_count) VALUES (\(recall), \(mine), \(host), 'test', 1)
                """, logger: logger)
            await expectForeignKeyViolation("a recall of another tenant's file") {
                try await client.query("""
                    INSERT INTO recall_job_files (job_id, customer_id, file_path, file_id) VALUES (\(recall), \(mine), '/p', \(theirFile))
                    """, logger: logger)
            }
            try await client.query("""
                INSERT INTO recall_job_files (job_id, customer_id, file_path, file_id) VALUES (\(recall), \(mine), '/p', \(myFile))
                """, logger: logger)
            try await client.query("DELETE FROM tiering_jobs WHERE id = \(job)", logger: logger)
            let left = try await client.query("SELECT count(*) FROM tiering_job_files", logger: logger)
            for try await count in left.decode(Int.self) { #expect(count == 0, "a deleted job takes its files along") }
        }
    }

    @Test func concurrentRunsDoNotCollide() async throws {
        let url = try await TestServers.freshDatabase()
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await TestServers.withPostgres(url) { client in
                        try await Migrator().migrate(on: client, logger: TestServers.logger)
                    }
                }
            }
            var all: [[Int]] = []
            for try await versions in group { all.append(versions) }
            return all
        }
        #expect(applied.flatMap { $0 }.sorted() == Migrator.bundledMigrations.map(\.version))
        try await TestServers.withPostgres(url) { client in
            for try await count in try await client.query("SELECT count(*) FROM schema_migrations", logger: TestServers.logger).decode(Int.self) {
                #expect(count == Migrator.bundledMigrations.count)
            }
        }
    }

    @Test func stagingPartitionsAreCreatedOnDemandByCustomerAndDay() async throws {
        let url = try await TestServers.freshDatabase()
        try await TestServers.withPostgres(url) { client in
            try await Migrator().migrate(on: client, logger: TestServers.logger)
            let customer = UUID()
            try await client.query("SELECT scan_staging.ensure_partition(\(customer), '2025-10-28'::date)", logger: TestServers.logger)
            try await client.query("SELECT scan_staging.ensure_partition(\(customer), '2025-10-28'::date)", logger: TestServers.logger)
            var partitions = 0
            for try await count in try await client.query("""
                SELECT count(*) FROM pg_inherits JOIN pg_class ON pg_class.oid = inhrelid
                WHERE relname LIKE 'raw_scans_c%'
                """, logger: TestServers.logger).decode(Int.self) { partitions = count }
            #expect(partitions == 2)
            for try await dropped in try await client.query("SELECT scan_staging.drop_partitions_before('2025-11-05'::date)", logger: TestServers.logger).decode(Int.self) {
                #expect(dropped == 1)
            }
        }
    }
}

import Foundation
