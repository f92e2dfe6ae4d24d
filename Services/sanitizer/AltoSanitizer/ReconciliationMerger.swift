import AltoAMQP
import AltoCentral
import AltoModels
import AltoRuntime
import AltoStore
import Foundation
import Logging
import Metrics
import PostgresNIO

/// Merges what an agent reported of a run with the stub registry, set against set in PostgreSQL, so a run over
/// millions of objects costs the sanitizer no memory: registry rows whose copy was not listed (`missing_copy`),
/// listed objects nothing refers to (`orphan`), copies of another size than was stored (`size_drift`) or that did
/// not read back as their description says (`hash_drift`), copies without a description (`undescribed_copy`), and
/// stubs gone or changed on their host (`stub_missing`, `stub_differs`). A finding seen again keeps its row; an open
/// one this run no longer sees is resolved. A stub whose only copy is missing or damaged is marked at risk, loudly.
struct ReconciliationMerger: Sendable {
    let postgres: PostgresClient
    let auditTrail: AuditTrail
    /// Objects younger than this when the listing began are left out of orphans: a job may be writing them.
    let orphanMinimumAge: Duration
    let logger: Logger

    init(postgres: PostgresClient, auditTrail: AuditTrail, orphanMinimumAge: Duration, logger: Logger) {
        self.postgres = postgres
        self.auditTrail = auditTrail
        self.orphanMinimumAge = orphanMinimumAge
        self.logger = logger
    }

    func handle(_ delivery: AMQPDelivery) async -> AMQPSettlement {
        await HostMessage.handle(delivery, as: ReconciliationListed.self, logger: logger, failure: MessageFailure.settlement) { envelope, _, logger in
            try await merge(envelope.payload.runID, customerID: envelope.customerID, envelope: envelope, logger: logger)
            return .ack
        }
    }

    /// Counts of what a merge found, by kind: all it saw, and those seen for the first time.
    struct Outcome: Sendable {
        var seen: [String: Int64] = [:]
        var new: [String: Int64] = [:]
        var atRisk: [(path: String, location: String)] = []
    }

    func merge(_ runID: UUID, customerID: UUID, envelope: Envelope<ReconciliationListed>, logger: Logger) async throws {
        var logger = logger
        logger[metadataKey: "run"] = "\(runID)"
        let outcome = try await postgres.withTenant(customerID, logger: logger) { connection -> Outcome? in
            let runs = try await connection.query("""
                SELECT target_id, host_id, scope, created_at, deletions, purges, rebuilds, remakes FROM reconciliation_runs
                WHERE customer_id = \(customerID) AND id = \(runID) AND state = 'listed' FOR UPDATE
                """, logger: logger).collect().map { try $0.decode((UUID, UUID, String, Date, [String], [String], [String], [String]).self) }
            guard let (targetID, hostID, scope, started, deletions, purges, rebuilds, remakes) = runs.first else { return nil }
            let run = Scope(customerID: customerID, runID: runID, targetID: targetID, hostID: hostID, wholeTenant: scope == "tenant",
                            listed: scope != "stubs", started: started, purges: purges, rebuilds: rebuilds, remakes: remakes)
            // The run's objects in a table of this transaction's own, which it can index and analyze: the staged rows
            // were just written, and a plan made without their statistics would join a million rows by nested loops.
            try await connection.query("""
                CREATE TEMPORARY TABLE run_objects ON COMMIT DROP AS
                SELECT location, key, size, modified_at, outcome, detail FROM scan_staging.reconciliation_rows
                WHERE run_id = \(runID) AND kind = 'object'
                """, logger: logger)
            try await connection.query("CREATE INDEX ON run_objects (location)", logger: logger)
            try await connection.query("ANALYZE run_objects", logger: logger)
            try await connection.query("""
                CREATE TEMPORARY TABLE run_findings (kind text, host_id uuid, file_path text, location text COLLATE "C", detail text)
                ON COMMIT DROP
                """, logger: logger)
            let rebuilt = try await rebuildRegistryRows(run, on: connection, logger: logger)
            let ended = deletions + rebuilt.flatMap { [$0.location, CopyDescription.location(describing: $0.location)] }
            for query in findingQueries(run) { try await connection.query(query, logger: logger) }
            var outcome = Outcome()
            let counted = try await connection.query("""
                WITH upserted AS (
                    INSERT INTO findings (customer_id, kind, target_id, host_id, file_path, location, detail, last_run_id)
                    SELECT DISTINCT ON (kind, location) \(customerID), kind, \(targetID), host_id, file_path, location, detail, \(runID)
                    FROM run_findings
                    ON CONFLICT (customer_id, target_id, kind, location) WHERE state IN ('open', 'accepted')
                    DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, last_run_id = EXCLUDED.last_run_id,
                        host_id = coalesce(EXCLUDED.host_id, findings.host_id), file_path = coalesce(EXCLUDED.file_path, findings.file_path)
                    RETURNING kind, xmax = 0 AS new)
                SELECT kind, count(*), count(*) FILTER (WHERE new) FROM upserted GROUP BY kind
                """, logger: logger).collect().map { try $0.decode((String, Int64, Int64).self) }
            for (kind, seen, new) in counted {
                outcome.seen[kind] = seen
                outcome.new[kind] = new
            }
            // What is no longer seen: deleted on the sanitizer's word (repaired), or gone by itself (resolved). A copy
            // found damaged stays damaged until a run reads it back good (a sample may not read it again), or it is
            // gone; a host's stubs are checked by that host only.
            let repaired = try await connection.query("""
                UPDATE findings SET state = CASE WHEN location = ANY(\(ended)) THEN 'repaired' ELSE 'resolved' END, ended_at = now()
                WHERE customer_id = \(customerID) AND target_id = \(targetID) AND state = 'open'
                  AND (\(run.wholeTenant) OR host_id = \(hostID)) AND last_run_id IS DISTINCT FROM \(runID)
                  AND (kind NOT IN ('stub_missing', 'stub_differs') OR host_id = \(hostID))
                  AND (\(run.listed) OR kind IN ('stub_missing', 'stub_differs'))
                  AND (kind <> 'hash_drift' OR NOT EXISTS (SELECT 1 FROM run_objects AS listed
                                                           WHERE listed.location = findings.location
                                                             AND listed.outcome IS DISTINCT FROM 'ok'))
                RETURNING location, state
                """, logger: logger).collect().map { try $0.decode((String, String).self) }
                .filter { $0.1 == "repaired" && deletions.contains($0.0) }.map(\.0)
            outcome.atRisk = try await markAtRisk(run, on: connection, logger: logger)
            let retained = try await retainCopiesOfDeletedStubs(run, on: connection, logger: logger)
            let moves = try await followMovedStubs(run, on: connection, logger: logger)
            let purged = try await recordPurges(run, on: connection, logger: logger)
            let remade = try await recordRemakes(run, on: connection, logger: logger)
            try await connection.query("""
                UPDATE reconciliation_runs SET state = 'merged', merged_at = now() WHERE id = \(runID)
                """, logger: logger)
            try await connection.query("DELETE FROM scan_staging.reconciliation_rows WHERE run_id = \(runID)", logger: logger)
            var records = [AuditRecord(actor: "sanitizer", action: "reconciliation.merge", target: "storage-target/\(targetID)",
                                       result: "merged", details: ["run": runID.uuidString.lowercased(), "host": hostID.uuidString.lowercased()]
                                           .merging(outcome.seen.mapValues { "\($0)" }) { a, _ in a })]
            records += repaired.map { location in
                AuditRecord(actor: "sanitizer", action: "finding.repair", target: location, result: "deleted",
                            details: ["kind": "orphan", "run": runID.uuidString.lowercased()])
            }
            records += retained.map { path in
                AuditRecord(actor: "sanitizer", action: "finding.repair", target: path, result: "retained",
                            details: ["kind": "stub_missing", "run": runID.uuidString.lowercased()])
            }
            records += rebuilt.map { row in
                AuditRecord(actor: "sanitizer", action: "registry.rebuild", target: row.path, result: row.state,
                            details: ["location": row.location, "run": runID.uuidString.lowercased()])
            }
            records += remade.map { copy in
                AuditRecord(actor: "sanitizer", action: "copy.remake", target: copy.location, result: copy.result,
                            details: ["path": copy.path, "detail": copy.detail, "run": runID.uuidString.lowercased()])
            }
            records += moves.map { move in
                AuditRecord(actor: "sanitizer", action: "stub.moved", target: move.path, result: move.result,
                            details: ["location": move.location, "moved_to": move.movedTo, "run": runID.uuidString.lowercased()])
            }
            records += purged.map { purge in
                AuditRecord(actor: "sanitizer", action: "copy.purge", target: purge.location, result: purge.result,
                            details: ["path": purge.path, "reason": purge.detail, "run": runID.uuidString.lowercased()])
            }
            records += outcome.atRisk.map { stub in
                AuditRecord(actor: "sanitizer", action: "stub.at_risk", target: stub.path, result: "at_risk",
                            details: ["location": stub.location, "run": runID.uuidString.lowercased()])
            }
            try await auditTrail.append(records, customerID: customerID, on: connection, logger: logger)
            let newCount = outcome.new.values.reduce(0, +)
            if newCount > 0 || !outcome.atRisk.isEmpty {
                let event = outcome.atRisk.isEmpty ? "reconciliation.findings" : "stub.at_risk"
                let summary = outcome.atRisk.isEmpty
                    ? "reconciliation found \(newCount) new findings"
                    : "\(outcome.atRisk.count) stubs have no good copy left: \(outcome.atRisk.prefix(3).map(\.path).joined(separator: ", "))"
                try await Outbox.enqueue(envelope.reply(AltoNotification(event: event, jobID: nil, summary: summary, counts: outcome.new)),
                                         exchange: AMQPTopology.notificationsExchange, routingKey: "", on: connection, logger: logger)
            }
            return outcome
        }
        guard let outcome else {
            logger.info("reconciliation run already merged or not reported")
            return
        }
        for (kind, count) in outcome.new { Counter(label: "alto_sanitizer_findings_opened_total", dimensions: [("kind", kind)]).increment(by: Int(count)) }
        for stub in outcome.atRisk {
            logger.critical("a stub's only copy is missing or damaged: the file is at risk",
                            metadata: ["path": "\(stub.path)", "location": "\(stub.location)"])
        }
        logger.info("reconciliation merged", metadata: ["findings": "\(outcome.seen)", "new": "\(outcome.new)"])
    }

    /// What one run covers.
    struct Scope {
        var customerID: UUID
        var runID: UUID
        var targetID: UUID
        var hostID: UUID
        var wholeTenant: Bool
        /// False for a run that only checked its host's stubs: it says nothing of the target's objects.
        var listed: Bool
        var started: Date
        /// The copies of deleted stubs the agent was told to purge.
        var purges: [String]
        /// The copies the agent was asked to describe, for their registry rows.
        var rebuilds: [String]
        /// The copies the agent was asked to make again from another copy.
        var remakes: [String]
    }

    /// One statement per kind of finding, each filling `run_findings` from the run's rows and the registry.
    func findingQueries(_ run: Scope) -> [PostgresQuery] {
        let (customer, target, host, runID, whole) = (run.customerID, run.targetID, run.hostID, run.runID, run.wholeTenant)
        let oldEnough = run.started.addingTimeInterval(-Double(orphanMinimumAge.components.seconds))
        let stubs: PostgresQuery = """
            INSERT INTO run_findings
            SELECT CASE WHEN listed.outcome = 'missing' THEN 'stub_missing' ELSE 'stub_differs' END, \(host), listed.key, listed.location,
                   coalesce(listed.detail, '')
            FROM scan_staging.reconciliation_rows AS listed
            WHERE listed.run_id = \(runID) AND listed.kind = 'stub' AND listed.outcome IN ('missing', 'differs')
            """
        guard run.listed else { return [stubs] }
        return [
            """
            INSERT INTO run_findings
            SELECT 'missing_copy', registry.host_id, registry.file_path, registry.tiered_location, 'the copy is not on the target'
            FROM stub_registry AS registry
            WHERE registry.customer_id = \(customer) AND registry.target_id = \(target) AND registry.state = 'active'
              AND (\(whole) OR registry.host_id = \(host)) AND registry.created_at < \(run.started)
              AND NOT EXISTS (SELECT 1 FROM run_objects AS listed WHERE listed.location = registry.tiered_location)
            """,
            """
            INSERT INTO run_findings
            SELECT 'orphan', CASE WHEN split_part(listed.key, '/', 5) ~ '^[0-9a-f-]{36}$' THEN split_part(listed.key, '/', 5)::uuid END,
                   NULL, listed.location,
                   CASE WHEN listed.location LIKE '%.alto.json' THEN 'a description of no copy the registry knows'
                        ELSE 'no stub refers to it' END
            FROM run_objects AS listed
            WHERE listed.modified_at < \(oldEnough)
              AND NOT EXISTS (
                  SELECT 1 FROM stub_registry AS registry
                  WHERE registry.customer_id = \(customer) AND registry.target_id = \(target) AND registry.state IN ('active', 'deleted')
                    AND registry.tiered_location = CASE WHEN listed.location LIKE '%.alto.json' THEN left(listed.location, -10)
                                                        ELSE listed.location END)
            """,
            """
            INSERT INTO run_findings
            SELECT CASE WHEN listed.outcome = 'damaged' THEN 'hash_drift' ELSE 'size_drift' END,
                   registry.host_id, registry.file_path, registry.tiered_location,
                   CASE WHEN listed.outcome = 'damaged' THEN listed.detail
                        ELSE format('the copy is %s bytes, %s were stored', listed.size, registry.stored_bytes) END
            FROM stub_registry AS registry
            JOIN run_objects AS listed ON listed.location = registry.tiered_location
            WHERE registry.customer_id = \(customer) AND registry.target_id = \(target) AND registry.state = 'active'
              AND (\(whole) OR registry.host_id = \(host))
              AND (listed.outcome = 'damaged' OR (registry.stored_bytes IS NOT NULL AND listed.size IS DISTINCT FROM registry.stored_bytes))
            """,
            """
            INSERT INTO run_findings
            SELECT 'undescribed_copy', registry.host_id, registry.file_path, registry.tiered_location,
                   'the copy has no description beside it, so tier-2 alone cannot restore it'
            FROM stub_registry AS registry
            JOIN run_objects AS listed ON listed.location = registry.tiered_location
            WHERE registry.customer_id = \(customer) AND registry.target_id = \(target) AND registry.state = 'active'
              AND (\(whole) OR registry.host_id = \(host))
              AND NOT EXISTS (SELECT 1 FROM run_objects AS description
                              WHERE description.location = registry.tiered_location || '.alto.json')
            """,
            stubs,
        ]
    }

    /// A stub the agent found gone was deleted by a user: its registry row says so from now, and its copy stays on
    /// the target, the finding repaired by that; returns the paths.
    private func retainCopiesOfDeletedStubs(_ run: Scope, on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        var series = SavingsSeries()
        let paths = try await connection.query("""
            UPDATE stub_registry AS registry SET state = 'deleted', deleted_at = now()
            FROM run_findings AS found
            WHERE found.kind = 'stub_missing' AND registry.customer_id = \(run.customerID) AND registry.host_id = \(run.hostID)
              AND registry.target_id = \(run.targetID) AND registry.state = 'active' AND registry.file_path = found.file_path
              AND registry.tiered_location = found.location
            RETURNING registry.file_path, coalesce(registry.bytes_saved, registry.size)
            """, logger: logger).collect().map { row in
                let (path, freed) = try row.decode((String, Int64).self)
                series.addRemoved(target: run.targetID, freed: freed)
                return path
            }
        try await series.record(customerID: run.customerID, hostID: run.hostID, on: connection, logger: logger)
        try await connection.query("""
            UPDATE findings SET state = 'repaired', ended_at = now(),
                detail = detail || '; its copy is kept'
            WHERE customer_id = \(run.customerID) AND target_id = \(run.targetID) AND kind = 'stub_missing' AND state = 'open'
              AND last_run_id = \(run.runID) AND file_path = ANY(\(paths))
            """, logger: logger)
        return paths
    }

    /// A copy the agent made again from another copy is whole: its stub is no longer at risk and the finding of
    /// its absence or damage is repaired (also when this merge just took it for resolved, the listing having found
    /// the copy again). Returns each copy asked for, made again or kept with the agent's reason.
    private func recordRemakes(_ run: Scope, on connection: PostgresConnection, logger: Logger) async throws
        -> [(path: String, location: String, result: String, detail: String)] {
        guard !run.remakes.isEmpty else { return [] }
        let reported = try await connection.query("""
            SELECT key, location, outcome, coalesce(detail, '') FROM scan_staging.reconciliation_rows
            WHERE run_id = \(run.runID) AND kind = 'stub' AND outcome IN ('remade', 'kept') AND location = ANY(\(run.remakes))
            """, logger: logger).collect().map { row in
                let (path, location, outcome, detail) = try row.decode((String, String, String, String).self)
                return (path: path, location: location, result: outcome, detail: detail)
            }
        let remade = reported.filter { $0.result == "remade" }.map(\.location)
        try await connection.query("""
            UPDATE stub_registry SET at_risk = false
            WHERE customer_id = \(run.customerID) AND host_id = \(run.hostID) AND target_id = \(run.targetID) AND state = 'active'
              AND tiered_location = ANY(\(remade))
            """, logger: logger)
        try await connection.query("""
            UPDATE findings SET state = 'repaired', ended_at = now(), detail = detail || '; made again from another copy of the same content'
            WHERE customer_id = \(run.customerID) AND target_id = \(run.targetID) AND kind IN ('missing_copy', 'hash_drift', 'size_drift')
              AND (state IN ('open', 'accepted') OR (state = 'resolved' AND ended_at = now())) AND location = ANY(\(remade))
            """, logger: logger)
        return reported
    }

    /// Registers again the copies the agent described, as its host's stubs (active where the stub names its copy,
    /// deleted where none does, so the copy is kept for the retention window); only copies the run asked about that
    /// no row names, and never over a stub the registry has at that path. A refusal, the agent's or this one, stays
    /// on the copy's orphan finding, and only then may the copy go as an orphan. Returns the rows registered.
    private func rebuildRegistryRows(_ run: Scope, on connection: PostgresConnection, logger: Logger) async throws
        -> [(path: String, location: String, state: String)] {
        guard !run.rebuilds.isEmpty else { return [] }
        let (customer, host, target) = (run.customerID, run.hostID, run.targetID)
        let rebuilt = try await connection.query("""
            INSERT INTO stub_registry (customer_id, host_id, file_id, file_path, target_id, tiered_location, hash, size, wrapped_key,
                                       stored_bytes, stub_handle, state, deleted_at, created_at)
            SELECT \(customer), \(host),
                   (SELECT inventory.id FROM file_inventory AS inventory
                    WHERE inventory.customer_id = \(customer) AND inventory.host_id = \(host) AND inventory.file_path = described.key),
                   described.key, \(target), described.location, described.entry->>'hash', (described.entry->>'size')::bigint,
                   described.entry->>'wrapped_key', (described.entry->>'stored_bytes')::bigint, described.entry->>'handle',
                   described.outcome, CASE WHEN described.outcome = 'deleted' THEN now() END, (described.entry->>'tiered_at')::timestamptz
            FROM (SELECT DISTINCT ON (location) * FROM scan_staging.reconciliation_rows
                  WHERE run_id = \(run.runID) AND kind = 'described' AND outcome IN ('active', 'deleted')
                    AND location = ANY(\(run.rebuilds))) AS described
            WHERE NOT EXISTS (SELECT 1 FROM stub_registry AS known
                              WHERE known.customer_id = \(customer) AND known.target_id = \(target)
                                AND known.tiered_location = described.location)
            ON CONFLICT (host_id, file_path) WHERE state = 'active' DO NOTHING
            RETURNING file_path, tiered_location, state
            """, logger: logger).collect().map { row in
                let (path, location, state) = try row.decode((String, String, String).self)
                return (path: path, location: location, state: state)
            }
        try await connection.query("""
            UPDATE findings SET rebuild_refused = CASE WHEN described.outcome = 'refused' THEN coalesce(described.detail, 'refused')
                                                      ELSE 'the registry has another stub at its path' END
            FROM scan_staging.reconciliation_rows AS described
            WHERE described.run_id = \(run.runID) AND described.kind = 'described' AND described.location = ANY(\(run.rebuilds))
              AND findings.customer_id = \(customer) AND findings.target_id = \(target) AND findings.kind = 'orphan'
              AND findings.state IN ('open', 'accepted') AND findings.location = described.location
              AND NOT (described.location = ANY(\(rebuilt.map(\.location))))
            """, logger: logger)
        if !rebuilt.isEmpty {
            logger.notice("registry rows rebuilt from the copies' descriptions", metadata: ["rows": "\(rebuilt.count)"])
        }
        return rebuilt
    }

    /// A registry row follows its stub to where the agent found it moved (a deleted one is there again, so it is
    /// active again); a row whose stub is already registered at its new place is the same stub twice and goes.
    /// Returns each move with what became of its row.
    private func followMovedStubs(_ run: Scope, on connection: PostgresConnection, logger: Logger) async throws
        -> [(path: String, location: String, movedTo: String, result: String)] {
        let (customer, host, target) = (run.customerID, run.hostID, run.targetID)
        let merged = try await connection.query("""
            DELETE FROM stub_registry AS stale
            USING scan_staging.reconciliation_rows AS moved
            WHERE moved.run_id = \(run.runID) AND moved.kind = 'stub' AND moved.outcome = 'moved' AND moved.moved_to <> moved.key
              AND stale.customer_id = \(customer) AND stale.host_id = \(host) AND stale.target_id = \(target)
              AND stale.state IN ('active', 'deleted') AND stale.file_path = moved.key AND stale.tiered_location = moved.location
              AND EXISTS (SELECT 1 FROM stub_registry AS current
                          WHERE current.customer_id = \(customer) AND current.host_id = \(host) AND current.state = 'active'
                            AND current.file_path = moved.moved_to AND current.tiered_location = moved.location)
            RETURNING stale.file_path, stale.tiered_location, moved.moved_to
            """, logger: logger).collect().map { row in
                let (path, location, movedTo) = try row.decode((String, String, String).self)
                return (path: path, location: location, movedTo: movedTo, result: "registered there already")
            }
        // One row per stub moves (the newest, should a path have been registered twice), one to each new path (two
        // rows naming one copy may both be found there), and only to a path no other active row holds.
        let followed = try await connection.query("""
            UPDATE stub_registry AS registry SET file_path = moved.moved_to, state = 'active', deleted_at = NULL
            FROM (SELECT DISTINCT ON (moved_to) * FROM scan_staging.reconciliation_rows
                  WHERE run_id = \(run.runID) AND kind = 'stub' AND outcome = 'moved'
                  ORDER BY moved_to, key) AS moved
            WHERE true
              AND registry.id = (SELECT max(same.id) FROM stub_registry AS same
                                 WHERE same.customer_id = \(customer) AND same.host_id = \(host) AND same.target_id = \(target)
                                   AND same.state IN ('active', 'deleted') AND same.file_path = moved.key
                                   AND same.tiered_location = moved.location)
              AND NOT EXISTS (SELECT 1 FROM stub_registry AS taken
                              WHERE taken.customer_id = \(customer) AND taken.host_id = \(host) AND taken.state = 'active'
                                AND taken.file_path = moved.moved_to AND taken.id <> registry.id)
            RETURNING moved.key, moved.location, moved.moved_to
            """, logger: logger).collect().map { row in
                let (path, location, movedTo) = try row.decode((String, String, String).self)
                return (path: path, location: location, movedTo: movedTo, result: path == movedTo ? "back" : "followed")
            }
        return merged + followed
    }

    /// The purges the agent carried out (only those the run asked for, of rows still deleted) mark their rows
    /// purged; those it refused are returned with its reason, as are the purged.
    private func recordPurges(_ run: Scope, on connection: PostgresConnection, logger: Logger) async throws
        -> [(path: String, location: String, result: String, detail: String)] {
        let purged = try await connection.query("""
            UPDATE stub_registry AS registry SET state = 'purged', purged_at = now()
            FROM scan_staging.reconciliation_rows AS done
            WHERE done.run_id = \(run.runID) AND done.kind = 'stub' AND done.outcome = 'purged' AND done.location = ANY(\(run.purges))
              AND registry.customer_id = \(run.customerID) AND registry.host_id = \(run.hostID) AND registry.target_id = \(run.targetID)
              AND registry.state = 'deleted' AND registry.tiered_location = done.location
            RETURNING registry.file_path, registry.tiered_location, coalesce(done.detail, '')
            """, logger: logger).collect().map { row in
                let (path, location, detail) = try row.decode((String, String, String).self)
                return (path: path, location: location, result: "purged", detail: detail)
            }
        let kept = try await connection.query("""
            SELECT key, location, coalesce(detail, '') FROM scan_staging.reconciliation_rows
            WHERE run_id = \(run.runID) AND kind = 'stub' AND outcome = 'kept' AND location = ANY(\(run.purges))
            """, logger: logger).collect().map { row in
                let (path, location, detail) = try row.decode((String, String, String).self)
                return (path: path, location: location, result: "kept", detail: detail)
            }
        for purge in kept {
            logger.warning("a copy due to be purged is kept", metadata: ["path": "\(purge.path)", "reason": "\(purge.detail)"])
        }
        return purged + kept
    }

    /// Marks the stubs whose copy this run found missing or damaged as at risk, and clears it from those whose copy
    /// is there again with no damage found on it still standing; returns those newly at risk.
    private func markAtRisk(_ run: Scope, on connection: PostgresConnection, logger: Logger) async throws -> [(path: String, location: String)] {
        try await connection.query("""
            UPDATE stub_registry SET at_risk = false
            WHERE customer_id = \(run.customerID) AND target_id = \(run.targetID) AND state = 'active' AND at_risk
              AND (\(run.wholeTenant) OR host_id = \(run.hostID))
              AND tiered_location IN (SELECT location FROM run_objects)
              AND tiered_location NOT IN (SELECT location FROM run_findings WHERE kind IN ('missing_copy', 'hash_drift'))
              AND NOT EXISTS (SELECT 1 FROM findings AS damage
                              WHERE damage.customer_id = \(run.customerID) AND damage.target_id = \(run.targetID)
                                AND damage.kind = 'hash_drift' AND damage.state IN ('open', 'accepted')
                                AND damage.location = stub_registry.tiered_location)
            """, logger: logger)
        return try await connection.query("""
            UPDATE stub_registry SET at_risk = true
            WHERE customer_id = \(run.customerID) AND target_id = \(run.targetID) AND state = 'active' AND NOT at_risk
              AND (\(run.wholeTenant) OR host_id = \(run.hostID))
              AND tiered_location IN (SELECT location FROM run_findings WHERE kind IN ('missing_copy', 'hash_drift'))
            RETURNING file_path, tiered_location
            """, logger: logger).collect().map { row in
                let (path, location) = try row.decode((String, String).self)
                return (path: path, location: location)
            }
    }
}
