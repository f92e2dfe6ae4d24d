import AltoAMQP
import AltoModels
import AltoStore
import Foundation
import Logging
import PostgresNIO

/// Decides who lists a target and sends each its `reconcile.target`, in the caller's tenant transaction, so a run
/// exists exactly when its command is on its way. A folder target may be a different disk on every host, so each
/// host with stubs on it lists its own copies; a share or a bucket is the same for every host, so one host (the one
/// heard from last) lists the tenant's whole prefix and every other host with stubs there checks its own, since only
/// a stub's host can see it. The sanitizer's schedule and an admin's request both plan here.
public enum ReconciliationPlanner {
    /// How much of a target's content a run reads back.
    public enum Verification: String, Codable, Sendable {
        /// A share of the copies, `ALTO_SANITIZER_VERIFY_PERCENT`.
        case sample
        /// Every copy.
        case all
    }

    public struct Run: Codable, Sendable, Equatable {
        public var id: UUID
        public var hostID: UUID
        public var scope: ReconcileTarget.Scope

        enum CodingKeys: String, CodingKey {
            case id, scope
            case hostID = "host_id"
        }
    }

    /// A run not reported within this long no longer holds back the next one for its host and target.
    public static let runTimeout: TimeInterval = 6 * 3600

    /// Plans the runs for one target of the tenant the connection is bound to; none where a run is still open or
    /// no host can list it. Throws when the target does not exist.
    /// - Parameter checkStubs: whether the hosts also check their stubs on the target against the registry.
    public static func plan(target targetID: UUID, customerID: UUID, verification: Verification, samplePercent: Double,
                            checkStubs: Bool = true, requestedBy: String, on connection: PostgresConnection,
                            logger: Logger) async throws -> [Run]? {
        let rows = try await connection.query("""
            SELECT kind, location, settings::text, secrets::text FROM storage_targets
            WHERE customer_id = \(customerID) AND id = \(targetID) AND deleted_at IS NULL
            """, logger: logger)
        var found: StorageTargetReference?
        for try await (kind, location, settings, secrets) in rows.decode((String, String, String, String).self) {
            found = StorageTargetReference(id: targetID, kind: .init(rawValue: kind), location: location, settingsJSON: settings,
                                           secretsJSON: secrets)
        }
        guard let target = found else { return nil }
        let listing: ReconcileTarget.Scope = target.kind == .filesystem ? .host : .tenant
        // Hosts with copies on the target first (stubs, copies of deleted ones, or jobs that made copies there, for
        // a registry that lost its rows), the one heard from last first.
        let hosts = try await connection.query("""
            SELECT hosts.id, EXISTS (SELECT 1 FROM stub_registry AS registry
                                     WHERE registry.customer_id = \(customerID) AND registry.host_id = hosts.id
                                       AND registry.target_id = \(targetID) AND registry.state IN ('active', 'deleted'))
                             OR EXISTS (SELECT 1 FROM tiering_jobs AS job
                                        WHERE job.customer_id = \(customerID) AND job.host_id = hosts.id AND job.target_id = \(targetID))
            FROM hosts
            WHERE hosts.customer_id = \(customerID) AND hosts.agent_token_hash IS NOT NULL
            ORDER BY 2 DESC, hosts.last_heartbeat_at DESC NULLS LAST
            """, logger: logger).collect().map { try $0.decode((UUID, Bool).self) }
        let open = try await connection.query("""
            SELECT host_id, scope FROM reconciliation_runs
            WHERE customer_id = \(customerID) AND target_id = \(targetID) AND state IN ('sent', 'listed')
              AND created_at > now() - make_interval(secs => \(runTimeout))
            """, logger: logger).collect().map { try $0.decode((UUID, String).self) }
        let busy = Set(open.map(\.0))
        // A folder: each host with stubs lists its own copies. A share or bucket: one host lists it for the tenant
        // (none while such a listing is open), and every other host with stubs there checks its own.
        var planned: [(UUID, ReconcileTarget.Scope)] = []
        for (hostID, hasStubs) in hosts where !busy.contains(hostID) {
            if listing == .host {
                if hasStubs { planned.append((hostID, .host)) }
            } else if !open.contains(where: { $0.1 == "tenant" }) && !planned.contains(where: { $0.1 == .tenant }) {
                planned.append((hostID, .tenant))
            } else if hasStubs {
                planned.append((hostID, .stubs))
            }
        }
        var runs: [Run] = []
        for (hostID, scope) in planned {
            let run = Run(id: UUID(), hostID: hostID, scope: scope)
            let deletions = try await orphansToDelete(of: target, customerID: customerID, hostID: hostID, listing: scope != .stubs,
                                                      on: connection, logger: logger)
            let purges = try await copiesToPurge(of: target, customerID: customerID, hostID: hostID, on: connection, logger: logger)
            let rebuilds = try await copiesToDescribe(of: target, customerID: customerID, hostID: hostID, on: connection, logger: logger)
            let remakes = try await copiesToRemake(of: target, customerID: customerID, hostID: hostID, on: connection, logger: logger)
            try await connection.query("""
                INSERT INTO reconciliation_runs (id, customer_id, target_id, host_id, scope, verify, requested_by, deletions, purges, rebuilds,
                                                 remakes)
                VALUES (\(run.id), \(customerID), \(targetID), \(hostID), \(scope.rawValue), \(verification.rawValue), \(requestedBy),
                        \(deletions), \(purges.map(\.location)), \(rebuilds), \(remakes.map(\.location)))
                """, logger: logger)
            let command = ReconcileTarget(runID: run.id, target: target, scope: scope,
                                          verifyFraction: verification == .all ? 1 : min(1, max(0, samplePercent / 100)),
                                          checkStubs: checkStubs || scope == .stubs, deletions: deletions, purges: purges,
                                          rebuilds: rebuilds, remakes: remakes)
            try await Outbox.enqueue(Envelope(customerID: customerID, hostID: hostID, payload: command),
                                     queue: AMQPTopology.agentQueue(customerID: customerID.uuidString, hostID: hostID.uuidString),
                                     on: connection, logger: logger)
            runs.append(run)
        }
        return runs
    }

    /// The most copies one run deletes, so a command stays small; the rest go with the next runs.
    static let deletionsPerRun = 1000

    /// Orphans found longer ago than the target's grace (`orphan_grace_hours`, 24) and neither accepted nor kept by
    /// the target's setting (`orphans`: `keep`), among the host's own copies (or objects of no host): the host that
    /// made a copy is the one that can tell, before deleting it, that no stub of its still names it. Never an orphan
    /// with the name (below the tenant's folder) of a copy found missing: a target whose location changed shows each
    /// copy as both. Never what the registry names since the last merge, nor a description whose copy is itself an
    /// orphan (the copy's deletion takes it along, or its keeping keeps it).
    /// - Parameter listing: whether the host lists the target, which makes it the one to delete objects of no host.
    static func orphansToDelete(of target: StorageTargetReference, customerID: UUID, hostID: UUID, listing: Bool,
                                on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        let settings = target.settings ?? [:]
        guard settings["orphans"] != "keep" else { return [] }
        let graceHours = Int(settings["orphan_grace_hours"] ?? "") ?? 24
        let tenant = customerID.uuidString.lowercased() + "/"
        return try await connection.query("""
            SELECT orphan.location FROM findings AS orphan
            WHERE orphan.customer_id = \(customerID) AND orphan.target_id = \(target.id) AND orphan.kind = 'orphan' AND orphan.state = 'open'
              AND ((orphan.host_id IS NULL AND \(listing)) OR orphan.host_id = \(hostID))
              AND orphan.first_seen <= \(Date().addingTimeInterval(-Double(graceHours) * 3600))
              AND NOT EXISTS (SELECT 1 FROM findings AS missing
                              WHERE missing.customer_id = \(customerID) AND missing.target_id = \(target.id)
                                AND missing.kind = 'missing_copy' AND missing.state IN ('open', 'accepted')
                                AND substr(missing.location, strpos(missing.location, \(tenant))) = substr(orphan.location, strpos(orphan.location, \(tenant))))
              AND NOT EXISTS (SELECT 1 FROM stub_registry AS registry
                              WHERE registry.customer_id = \(customerID) AND registry.target_id = \(target.id)
                                AND registry.state IN ('active', 'deleted')
                                AND registry.tiered_location IN (orphan.location, left(orphan.location, -10)))
              AND NOT \(unescaped: describable("orphan"))
              AND NOT (orphan.location LIKE '%.alto.json' AND EXISTS (
                  SELECT 1 FROM findings AS copy
                  WHERE copy.customer_id = \(customerID) AND copy.target_id = \(target.id) AND copy.kind = 'orphan'
                    AND copy.state IN ('open', 'accepted') AND copy.location = left(orphan.location, -10)))
            ORDER BY orphan.id LIMIT \(deletionsPerRun)
            """, logger: logger).collect().map { try $0.decode(String.self) }
    }

    /// An orphan copy (the findings row `alias`) that no registry row has ever named, with its description beside
    /// it and no refusal yet to rebuild a row from it: the registry lost its row, so it is described, not deleted.
    static func describable(_ alias: String) -> String {
        """
            (\(alias).location NOT LIKE '%.alto.json' AND \(alias).rebuild_refused IS NULL
             AND EXISTS (SELECT 1 FROM findings AS description
                         WHERE description.customer_id = \(alias).customer_id AND description.target_id = \(alias).target_id
                           AND description.kind = 'orphan' AND description.state IN ('open', 'accepted')
                           AND description.location = \(alias).location || '.alto.json')
             AND NOT EXISTS (SELECT 1 FROM stub_registry AS known
                             WHERE known.customer_id = \(alias).customer_id AND known.target_id = \(alias).target_id
                               AND known.tiered_location = \(alias).location))
            """
    }

    /// The host's stubs at risk on the target (their copy missing or damaged) that another copy of the same content
    /// can make whole again: an active stub's copy of the same hash and size, on this target if there is one, that
    /// is not at risk and has no damage or absence found on it.
    static func copiesToRemake(of target: StorageTargetReference, customerID: UUID, hostID: UUID, on connection: PostgresConnection,
                               logger: Logger) async throws -> [ReconcileTarget.Remake] {
        let rows = try await connection.query("""
            SELECT DISTINCT ON (risk.id) risk.tiered_location, risk.file_path, source.tiered_location,
                   sources.id, sources.kind, sources.location, sources.settings::text, sources.secrets::text
            FROM stub_registry AS risk
            JOIN stub_registry AS source ON source.customer_id = risk.customer_id AND source.state = 'active' AND source.hash = risk.hash
                                        AND source.size = risk.size AND NOT source.at_risk AND source.tiered_location <> risk.tiered_location
            JOIN storage_targets AS sources ON sources.customer_id = source.customer_id AND sources.id = source.target_id
                                           AND sources.deleted_at IS NULL
            WHERE risk.customer_id = \(customerID) AND risk.target_id = \(target.id) AND risk.host_id = \(hostID)
              AND risk.state = 'active' AND risk.at_risk
              AND NOT EXISTS (SELECT 1 FROM findings AS doubt
                              WHERE doubt.customer_id = \(customerID) AND doubt.target_id = source.target_id
                                AND doubt.location = source.tiered_location AND doubt.kind IN ('missing_copy', 'hash_drift', 'size_drift')
                                AND doubt.state IN ('open', 'accepted'))
            ORDER BY risk.id, source.target_id = \(target.id) DESC, source.id DESC
            LIMIT \(deletionsPerRun)
            """, logger: logger).collect()
        return try rows.map { row in
            let (location, path, sourceLocation, id, kind, root, settings, secrets) = try row.decode(
                (String, String, String, UUID, String, String, String, String).self)
            return ReconcileTarget.Remake(location: location, filePath: path, sourceLocation: sourceLocation,
                                          sourceTarget: StorageTargetReference(id: id, kind: .init(rawValue: kind), location: root,
                                                                               settingsJSON: settings, secretsJSON: secrets))
        }
    }

    /// The host's orphan copies whose registry row can be rebuilt from their description, whatever their age.
    static func copiesToDescribe(of target: StorageTargetReference, customerID: UUID, hostID: UUID, on connection: PostgresConnection,
                                 logger: Logger) async throws -> [String] {
        try await connection.query("""
            SELECT orphan.location FROM findings AS orphan
            WHERE orphan.customer_id = \(customerID) AND orphan.target_id = \(target.id) AND orphan.kind = 'orphan'
              AND orphan.state = 'open' AND orphan.host_id = \(hostID) AND \(unescaped: describable("orphan"))
            ORDER BY orphan.id LIMIT \(deletionsPerRun)
            """, logger: logger).collect().map { try $0.decode(String.self) }
    }

    /// The copies of the host's stubs that users deleted longer ago than the target's `retention_days` (30), which
    /// no stub the registry has as there (or deleted more recently) still names. The host judges each before it
    /// purges it: a stub it finds moved or back keeps its copy.
    static func copiesToPurge(of target: StorageTargetReference, customerID: UUID, hostID: UUID, on connection: PostgresConnection,
                              logger: Logger) async throws -> [ReconcileTarget.Purge] {
        let retentionDays = Int((target.settings ?? [:])["retention_days"] ?? "") ?? 30
        let cutoff = Date().addingTimeInterval(-Double(retentionDays) * 86_400)
        return try await connection.query("""
            SELECT location, file_path, stub_handle FROM (
                SELECT DISTINCT ON (deleted.tiered_location) deleted.tiered_location AS location, deleted.file_path,
                       deleted.stub_handle, deleted.deleted_at
                FROM stub_registry AS deleted
                WHERE deleted.customer_id = \(customerID) AND deleted.target_id = \(target.id) AND deleted.host_id = \(hostID)
                  AND deleted.state = 'deleted' AND deleted.deleted_at <= \(cutoff)
                  AND NOT EXISTS (SELECT 1 FROM stub_registry AS other
                                  WHERE other.customer_id = \(customerID) AND other.target_id = \(target.id)
                                    AND other.tiered_location = deleted.tiered_location
                                    AND (other.state = 'active' OR (other.state = 'deleted' AND other.deleted_at > \(cutoff))))
                ORDER BY deleted.tiered_location, deleted.deleted_at DESC) AS candidates
            ORDER BY deleted_at LIMIT \(deletionsPerRun)
            """, logger: logger).collect().map { row in
                let (location, path, handle) = try row.decode((String, String, String?).self)
                return ReconcileTarget.Purge(location: location, filePath: path, handle: handle)
            }
    }
}
