import AltoModels
import AltoStore
import Foundation
import Logging
import Metrics
import PostgresNIO

/// The set-based steps of a batch around its COPY: where its rows go, their merge into `file_inventory`, the
/// completion of a full scan (a first scan's load table attached, or what the scan no longer saw retired), and the
/// host's totals. Each is one statement, whatever the batch size.
struct InventoryMerge: Sendable {
    let customerID: UUID
    let hostID: UUID
    let job: IngestJob

    /// The day the batch is staged under, `YYYY-MM-DD`: the day its scan started.
    var scanDate: String { String(RFC3339.format(job.scanStartedAt).prefix(10)) }

    /// The day's staged rows of this tenant, read through `raw_scans` and its row-level security; the tenant and
    /// the day are literals, so the planner reads the one partition that holds them.
    private var staged: String {
        "(SELECT * FROM scan_staging.raw_scans WHERE customer_id = '\(customerID.uuidString.lowercased())' AND scan_date = DATE '\(scanDate)')"
    }

    /// Merges the batch into the inventory with one set-based upsert keyed on (host_id, file_path) and returns how
    /// many distinct paths it holds. A file whose metadata did not change is not rewritten (a re-scan of an
    /// unchanged host writes nothing); a stored hash survives only while size and mtime are unchanged. Duplicated
    /// paths within a batch are rare, so the plain statement is tried first and the de-duplicating one (the last
    /// row of a path wins) only when PostgreSQL reports them. A host that holds no files yet (its first scan) takes
    /// a plain insert, with nothing to compare, and the upsert only if a path turns out to be there after all.
    func merge(accepted: Int, intoEmptyHost: Bool, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        if intoEmptyHost {
            if try await attempt(plainInsert, unless: "23505", on: connection, logger: logger) { return accepted }
            logger.info("the host's inventory already holds paths of this batch; merging it")
        }
        if try await attempt(upsert(deduplicating: false), unless: "21000", on: connection, logger: logger) { return accepted }
        logger.info("batch repeats paths; the last row of each wins")
        try await connection.query(upsert(deduplicating: true), logger: logger)
        var bindings = PostgresBindings()
        bindings.append(job.batchID)
        let distinct = try await connection.query(PostgresQuery(
            unsafeSQL: "SELECT count(DISTINCT file_path) FROM \(staged) AS day WHERE batch_id = $1", binds: bindings),
            logger: logger)
        for try await count in distinct.decode(Int.self) { return count }
        return accepted
    }

    /// Runs `query` in a savepoint; false, with the savepoint rolled back and nothing changed, when PostgreSQL
    /// refuses it with `sqlState`.
    private func attempt(_ query: PostgresQuery, unless sqlState: String, on connection: PostgresConnection,
                         logger: Logger) async throws -> Bool {
        try await connection.query("SAVEPOINT alto_merge", logger: logger)
        do {
            try await connection.query(query, logger: logger)
            try await connection.query("RELEASE SAVEPOINT alto_merge", logger: logger)
            return true
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == sqlState {
            try await connection.query("ROLLBACK TO SAVEPOINT alto_merge", logger: logger)
            return false
        }
    }

    /// The batch's rows (`$1`) as inventory rows of the scan (`$2`), read from `source`, a query over the staged rows.
    private func insertion(from source: String) -> String {
        """
        INSERT INTO file_inventory AS inventory (customer_id, host_id, file_path, file_size, last_modified, last_accessed,
            file_extension, permissions, owner, hash, last_scan_id, last_seen_at, path_key)
        SELECT customer_id, host_id, file_path, file_size, last_modified, last_accessed, file_extension, permissions, owner,
            hash, $2, now(), path_key
        FROM (\(source)) AS staged
        """
    }

    /// The batch inserted without looking for rows to update: it fails on a path already in the inventory (or twice
    /// in the batch).
    private var plainInsert: PostgresQuery {
        var bindings = PostgresBindings()
        bindings.append(job.batchID)
        bindings.append(job.scanID)
        return PostgresQuery(unsafeSQL: insertion(from: "SELECT * FROM \(staged) AS day WHERE batch_id = $1"), binds: bindings)
    }

    /// Only rows that change something reach the upsert: ON CONFLICT locks (so writes) every row it meets, even
    /// one its WHERE then leaves alone, and a re-scan meets mostly unchanged files. The filter is the negation of
    /// the upsert's WHERE, read through the unique index without locking.
    private func upsert(deduplicating: Bool) -> PostgresQuery {
        let source = deduplicating
            ? "SELECT DISTINCT ON (file_path) * FROM \(staged) AS day WHERE batch_id = $1 ORDER BY file_path, line DESC"
            : "SELECT * FROM \(staged) AS day WHERE batch_id = $1"
        var bindings = PostgresBindings()
        bindings.append(job.batchID)
        bindings.append(job.scanID)
        bindings.append(hostID)
        return PostgresQuery(unsafeSQL: insertion(from: source) + """

            WHERE NOT EXISTS (
                SELECT 1 FROM file_inventory AS unchanged
                WHERE unchanged.customer_id = staged.customer_id AND unchanged.host_id = $3 AND unchanged.file_path = staged.file_path
                  AND unchanged.deleted_at IS NULL
                  AND (unchanged.file_size, unchanged.last_modified, unchanged.last_accessed, unchanged.file_extension,
                       unchanged.permissions, unchanged.owner, unchanged.path_key)
                      IS NOT DISTINCT FROM (staged.file_size, staged.last_modified, staged.last_accessed, staged.file_extension,
                       staged.permissions, staged.owner, staged.path_key)
                  AND (staged.hash IS NULL OR staged.hash IS NOT DISTINCT FROM unchanged.hash))
            ON CONFLICT (host_id, file_path) DO UPDATE SET
                file_size = EXCLUDED.file_size,
                last_modified = EXCLUDED.last_modified,
                last_accessed = EXCLUDED.last_accessed,
                file_extension = EXCLUDED.file_extension,
                permissions = EXCLUDED.permissions,
                owner = EXCLUDED.owner,
                hash = CASE
                    WHEN EXCLUDED.hash IS NOT NULL THEN EXCLUDED.hash
                    WHEN inventory.file_size = EXCLUDED.file_size AND inventory.last_modified = EXCLUDED.last_modified
                        THEN inventory.hash
                END,
                last_scan_id = EXCLUDED.last_scan_id,
                last_seen_at = EXCLUDED.last_seen_at,
                path_key = EXCLUDED.path_key,
                deleted_at = NULL,
                updated_at = now()
            WHERE inventory.deleted_at IS NOT NULL
               OR (inventory.file_size, inventory.last_modified, inventory.last_accessed, inventory.file_extension,
                   inventory.permissions, inventory.owner, inventory.path_key)
                  IS DISTINCT FROM (EXCLUDED.file_size, EXCLUDED.last_modified, EXCLUDED.last_accessed, EXCLUDED.file_extension,
                   EXCLUDED.permissions, EXCLUDED.owner, EXCLUDED.path_key)
               OR (EXCLUDED.hash IS NOT NULL AND EXCLUDED.hash IS DISTINCT FROM inventory.hash)
            """, binds: bindings)
    }

    /// Where this batch's rows go: the load table of the host's first full scan, or else the day's staging
    /// partition, with the host's inventory partition created if it has none. Each is prepared in a transaction of
    /// its own, since creating or attaching a table locks its parent, which must not wait for a batch.
    func destination(postgres: PostgresClient, logger: Logger) async throws -> StagingLoader.Destination {
        if job.isFullScan, job.listing == .complete {
            let load: String? = try await postgres.withTenant(customerID, logger: logger) { connection in
                try await connection.query("SELECT inventory.begin_load(\(customerID), \(hostID), \(job.scanID))", logger: logger)
                    .collect().first?.decode(String?.self) ?? nil
            }
            if let load { return .inventoryLoad(table: load, scanID: job.scanID) }
        }
        try await postgres.withTenant(customerID, logger: logger) { connection in
            _ = try await connection.query("SELECT inventory.ensure_partition(\(customerID), \(hostID))", logger: logger).collect()
        }
        var partition = ""
        for try await name in try await postgres.query(
            "SELECT scan_staging.ensure_partition(\(customerID), \(scanDate)::date)", logger: logger).decode(String.self) {
            partition = name
        }
        return .staging(partition: partition, scanDate: scanDate)
    }

    /// Waits for the other batches of the host in flight to commit, and holds them off until this one does: the
    /// merge, the scan's completeness and the host's totals are then judged on everything committed before, so two
    /// batches that finish together cannot miss each other, and two merges never contend for the same index pages
    /// (measured: two at once take longer than one after the other). Batches of different hosts do not wait for
    /// each other, and a batch's staging load runs before the lock, beside another batch's merge.
    /// Returns whether the host counts no files yet: its first scan, whose batches then take the plain insert. The
    /// count can be stale (a first scan interrupted, every file retired); the insert then fails on the first path
    /// already there, which a scan sent again meets at once, and the batch is merged as any other.
    func lockHost(on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let rows = try await connection.query(
            "SELECT file_count = 0 FROM hosts WHERE id = \(hostID) AND customer_id = \(customerID) FOR UPDATE", logger: logger)
        for try await empty in rows.decode(Bool.self) { return empty }
        return false
    }

    /// Once every batch of a full scan is in, returns how many of the host's files it retired; nil while the scan
    /// is not complete (or not a full scan). A host's first full scan, copied into its load table, then becomes
    /// the host's inventory partition and retires nothing; a listing of changes retired what its batches of
    /// deletions named as they came; any other marks deleted the files it did not list.
    func completeFullScan(on connection: PostgresConnection, logger: Logger) async throws -> Int? {
        guard job.isFullScan, let batches = try await scanBatches(on: connection, logger: logger) else { return nil }
        if job.listing == .changes { return 0 }
        let loaded = try await connection.query(
            "SELECT to_regclass('inventory.' || inventory.load_of(\(job.scanID))) IS NOT NULL", logger: logger)
        for try await hasLoad in loaded.decode(Bool.self) where hasLoad {
            let files = try await connection.query(
                "SELECT inventory.finish_load(\(customerID), \(hostID), \(job.scanID))", logger: logger).collect().first?.decode(Int64.self)
            logger.info("first full scan loaded into the host's inventory partition", metadata: ["files": "\(files ?? 0)"])
            return 0
        }
        return try await retireUnseenFiles(batches, on: connection, logger: logger)
    }

    /// What a full scan's uploads say of it once all of its batches are ingested; nil before.
    private struct ScanBatches {
        var listed: Int64
        var accepted: Int64
        var batchIDs: [UUID]
        var unusable: Int64
        /// The files the agent found, as the scan's final batch said.
        var agentFiles: Int64?
    }

    private func scanBatches(on connection: PostgresConnection, logger: Logger) async throws -> ScanBatches? {
        let batches = try await connection.query("""
            SELECT count(*) FILTER (WHERE uploads.ingested_at IS NOT NULL), max(uploads.batch_index) FILTER (WHERE uploads.is_final_batch),
                coalesce(sum(uploads.listed_paths), 0)::bigint, coalesce(sum(uploads.accepted_rows), 0)::bigint,
                array_agg(uploads.batch_id),
                count(*) FILTER (WHERE EXISTS (SELECT 1 FROM scan_staging.rejects AS unusable
                                               WHERE unusable.batch_id = uploads.batch_id AND unusable.line = 0)),
                max(uploads.scan_files) FILTER (WHERE uploads.is_final_batch)
            FROM scan_staging.uploads AS uploads
            WHERE uploads.scan_id = \(job.scanID) AND uploads.host_id = \(hostID) AND uploads.customer_id = \(customerID)
            """, logger: logger)
        var state: (Int64, Int?, Int64, Int64, [UUID], Int64, Int64?)?
        for try await row in batches.decode((Int64, Int?, Int64, Int64, [UUID], Int64, Int64?).self) { state = row }
        guard let (ingested, finalIndex, listed, accepted, batchIDs, unusable, agentFiles) = state, let finalIndex,
              ingested == finalIndex + 1 else {
            return nil
        }
        return ScanBatches(listed: listed, accepted: accepted, batchIDs: batchIDs, unusable: unusable, agentFiles: agentFiles)
    }

    /// A listing of changes retires only what it names, so the inventory can drift from the host (a batch lost,
    /// two paths with one key, an inventory the agent's index does not describe); the host's live files are then
    /// counted against what the agent found, and a difference is reported for the next complete listing to mend.
    private func checkAgainstAgent(liveFiles: Int64, on connection: PostgresConnection, logger: Logger) async throws {
        guard let batches = try await scanBatches(on: connection, logger: logger), let agentFiles = batches.agentFiles,
              agentFiles != liveFiles || batches.unusable > 0 else { return }
        Counter(label: "alto_ingest_inventory_drift_total").increment()
        logger.warning("the inventory differs from the host after a listing of changes; the next complete listing mends it",
                       metadata: ["inventory_files": "\(liveFiles)", "agent_files": "\(agentFiles)", "unusable_batches": "\(batches.unusable)"])
    }

    /// Marks deleted the files a listing of deletions names by key, and returns how many. Stubs are kept, as a
    /// complete listing keeps them: a stub the agent no longer finds is the reconciliation's to judge.
    func retire(keys: [Int64], on connection: PostgresConnection, logger: Logger) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        let retired = try await connection.query("""
            UPDATE file_inventory AS inventory SET deleted_at = now(), updated_at = now()
            FROM unnest(\(keys)::bigint[]) AS gone (path_key)
            WHERE inventory.host_id = \(hostID) AND inventory.customer_id = \(customerID) AND inventory.path_key = gone.path_key
              AND inventory.deleted_at IS NULL AND NOT inventory.is_stubbed
            RETURNING 1
            """, logger: logger)
        var count = 0
        for try await _ in retired { count += 1 }
        return count
    }

    /// Marks deleted the host's files a complete full scan did not list, and returns how many. A file whose row was
    /// rejected is kept: the scan saw it, it only could not describe it. When the scan's distinct paths match the
    /// host's live files in number, nothing can be missing and the comparison is skipped. Nothing is retired (and
    /// 0 returned) when the scan cannot vouch for what it did not list: a batch of it was unusable, or its staged
    /// rows are not all there (their day's partition outlived the staging retention, or early batches went to a
    /// load table another scan's completion dropped).
    private func retireUnseenFiles(_ batches: ScanBatches, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        let (listed, accepted, batchIDs, unusable) = (batches.listed, batches.accepted, batches.batchIDs, batches.unusable)
        guard unusable == 0 else {
            logger.warning("a batch of this full scan could not be read; no file is retired for it", metadata: ["batches": "\(unusable)"])
            return 0
        }
        let live = try await connection.query("""
            SELECT count(*) FROM file_inventory WHERE host_id = \(hostID) AND customer_id = \(customerID) AND deleted_at IS NULL
            """, logger: logger)
        for try await count in live.decode(Int64.self) where count == listed {
            return 0
        }
        var stagedBindings = PostgresBindings()
        stagedBindings.append(batchIDs)
        let stagedRows = try await connection.query(PostgresQuery(
            unsafeSQL: "SELECT count(*) FROM \(staged) AS day WHERE batch_id = ANY($1)", binds: stagedBindings), logger: logger)
        for try await count in stagedRows.decode(Int64.self) where count != accepted {
            logger.warning("this full scan's staged rows are not all there any more; no file is retired for it",
                           metadata: ["staged": "\(count)", "accepted": "\(accepted)"])
            return 0
        }
        try await connection.query("SET LOCAL work_mem = '256MB'", logger: logger)
        var bindings = PostgresBindings()
        bindings.append(hostID)
        bindings.append(customerID)
        bindings.append(batchIDs)
        let retired = try await connection.query(PostgresQuery(unsafeSQL: """
            UPDATE file_inventory AS inventory SET deleted_at = now(), updated_at = now()
            WHERE inventory.host_id = $1 AND inventory.customer_id = $2 AND inventory.deleted_at IS NULL AND NOT inventory.is_stubbed
              AND NOT EXISTS (SELECT 1 FROM \(staged) AS staged
                              WHERE staged.batch_id = ANY($3) AND staged.file_path = inventory.file_path)
              AND NOT EXISTS (SELECT 1 FROM scan_staging.rejects AS rejected
                              WHERE rejected.batch_id = ANY($3) AND rejected.file_path = inventory.file_path)
            RETURNING 1
            """, binds: bindings), logger: logger)
        var count = 0
        for try await _ in retired { count += 1 }
        return count
    }

    /// The host's file count and bytes, and its last scan time; after a complete full scan, or after each batch of
    /// a partial one, since counting a million-file host after every batch would cost more than the batch. After
    /// a listing of changes the count is checked against the agent's.
    func refreshHostTotals(on connection: PostgresConnection, logger: Logger) async throws {
        let files = try await connection.query("""
            UPDATE hosts SET last_scan_at = greatest(last_scan_at, \(job.scanStartedAt)),
                (file_count, total_bytes) = (SELECT count(*), coalesce(sum(file_size), 0)::bigint FROM file_inventory
                                             WHERE host_id = \(hostID) AND customer_id = \(customerID) AND deleted_at IS NULL)
            WHERE id = \(hostID) AND customer_id = \(customerID)
            RETURNING file_count
            """, logger: logger).collect().first?.decode(Int64.self)
        if job.isFullScan, job.listing == .changes, let files { try await checkAgainstAgent(liveFiles: files, on: connection, logger: logger) }
    }
}
