import AltoAMQP
import AltoModels
import AltoStore
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle

/// Looks after jobs between messages: holds the jobs in flight on a host whose agent stopped sending heartbeats,
/// releases them when it is heard again, sends again a job its living agent has said nothing of for far longer
/// than it should take (its report may have been lost), and re-dispatches jobs that went back to the queue (held,
/// deferred because their tier was unavailable, or waiting for a slot) once they are due, rebuilt from the
/// database. The agent answers a job it already finished from its journal and waits for one it is running, so a
/// re-dispatch never runs a job twice at once. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so actor replicas share the work.
struct JobSweeper: Service {
    let postgres: PostgresClient
    let jobs: TieringJobStore
    let gate: DispatchGate
    /// An agent not heard from for this long has its jobs held.
    let agentTimeout: Duration
    /// A job in flight with no word from its agent for this long, plus twice its estimated duration, is sent again.
    let quietTimeout: Duration
    let pollInterval: Duration
    let logger: Logger
    private let redispatched = Counter(label: "alto_actor_jobs_redispatched_total")
    private let held = Counter(label: "alto_actor_jobs_held_total")

    init(postgres: PostgresClient, jobs: TieringJobStore, gate: DispatchGate, agentTimeout: Duration, quietTimeout: Duration,
         pollInterval: Duration, logger: Logger) {
        self.postgres = postgres
        self.jobs = jobs
        self.gate = gate
        self.agentTimeout = agentTimeout
        self.quietTimeout = quietTimeout
        self.pollInterval = pollInterval
        self.logger = logger
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await sweep()
            } catch {
                logger.warning("sweeping jobs failed, will retry", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pollInterval) }
        }
    }

    func sweep() async throws {
        let timeout = Double(agentTimeout.components.seconds)
        let quiet = Double(quietTimeout.components.seconds)
        try await postgres.acrossTenants(logger: logger) { connection in
            let silent = try await connection.query("""
                SELECT job.id, job.state, job.state_reason,
                       to_char(hosts.last_heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                FROM tiering_jobs job JOIN hosts ON hosts.id = job.host_id
                WHERE job.state IN ('dispatched', 'running') AND hosts.last_heartbeat_at < now() - \(timeout) * interval '1 second'
                FOR UPDATE OF job SKIP LOCKED
                """, logger: logger)
            let count = try await handleEach(silent, on: connection) { .agentSilent(since: $0 ?? "never") }
                .filter { $0.state == .held }.count
            if count > 0 {
                held.increment(by: count)
                logger.warning("jobs held: their agents stopped sending heartbeats", metadata: ["jobs": "\(count)"])
            }
            let heard = try await connection.query("""
                SELECT job.id, job.state, job.state_reason, NULL::text
                FROM tiering_jobs job JOIN hosts ON hosts.id = job.host_id
                WHERE job.state = 'held' AND hosts.last_heartbeat_at >= now() - \(timeout) * interval '1 second'
                FOR UPDATE OF job SKIP LOCKED
                """, logger: logger)
            _ = try await handleEach(heard, on: connection) { _ in .agentHeard }
            let quietJobs = try await connection.query("""
                SELECT job.id, job.state, job.state_reason, to_char(job.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                FROM tiering_jobs job JOIN hosts ON hosts.id = job.host_id
                WHERE job.state IN ('dispatched', 'running') AND hosts.last_heartbeat_at >= now() - \(timeout) * interval '1 second'
                  AND job.updated_at < now() - (\(quiet) + 2 * job.estimated_duration_seconds) * interval '1 second'
                FOR UPDATE OF job SKIP LOCKED
                """, logger: logger)
            for job in try await handleEach(quietJobs, on: connection, { .agentQuiet(since: $0 ?? "never") }) {
                logger.warning("job sent again: its agent has said nothing of it for too long", metadata: ["job": "\(job.id)"])
            }
        }
        var waiting: [UUID] = []
        sweeping: while true {
            switch try await dispatchOne(excluding: waiting) {
            case .dispatched: continue
            case .full(let jobID): waiting.append(jobID)
            case .none: break sweeping
            }
        }
    }

    /// Hands each job a query locked (id, state, reason, and the time its event names) its event, and returns the
    /// jobs as they are now. The rows are all read before the first job is written: a connection runs one
    /// statement at a time.
    private func handleEach(_ rows: PostgresRowSequence, on connection: PostgresConnection,
                            _ event: (String?) -> TieringJobStateMachine.Event) async throws -> [TieringJobStore.Job] {
        var found: [(UUID, String, String?, String?)] = []
        for try await row in rows.decode((UUID, String, String?, String?).self) { found.append(row) }
        var handled: [TieringJobStore.Job] = []
        for (id, state, reason, time) in found {
            var job = TieringJobStore.Job(id: id, state: try TieringJobStore.state(state, of: id), reason: reason)
            _ = try await jobs.handle(event(time), for: &job, on: connection, logger: logger)
            handled.append(job)
        }
        return handled
    }

    enum Sweep {
        case dispatched
        /// The job's host or target has no free slot; it waits for the next sweep.
        case full(UUID)
        case none
    }

    /// Dispatches one due queued job: put back, held, or waiting for a slot (or whose message was lost: queued for
    /// more than a few seconds), rebuilt from the database. Jobs already found waiting this sweep are passed over.
    private func dispatchOne(excluding excluded: [UUID]) async throws -> Sweep {
        try await postgres.acrossTenants(logger: logger) { connection in
            let rows = try await connection.query("""
                SELECT job.id, job.state_reason, job.customer_id, job.host_id, job.rule_id, job.priority, job.estimated_space_saved,
                       job.estimated_duration_seconds, target.id, target.kind, target.location, target.settings::text,
                       target.secrets::text, target.bandwidth_bytes_per_second
                FROM tiering_jobs job JOIN storage_targets target ON target.id = job.target_id
                WHERE job.state = 'queued' AND (job.not_before IS NULL OR job.not_before <= now())
                  AND (job.dispatch_count > 0 OR job.created_at < now() - interval '5 seconds')
                  AND job.id <> ALL(\(excluded)::uuid[])
                ORDER BY job.priority, job.created_at LIMIT 1
                FOR UPDATE OF job SKIP LOCKED
                """, logger: logger)
            typealias Row = (UUID, String?, UUID, UUID, UUID, Int, Int64, Double, UUID, String, String, String, String, Int64?)
            var found: Row?
            for try await row in rows.decode(Row.self) { found = row }
            guard let (jobID, reason, customerID, hostID, ruleID, priority, saved, duration, targetID, kind, location, settings, secrets,
                       bandwidth) = found
            else { return .none }
            // Found across tenants; everything else the job needs is read and written as its own tenant.
            try await connection.bindTenant(customerID, logger: logger)
            var job = TieringJobStore.Job(id: jobID, state: .queued, reason: reason)
            let slotFree = try await gate.admits(hostID: hostID, targetID: targetID, on: connection, logger: logger)
            guard try await jobs.handle(.dispatchRequested(due: true, slotFree: slotFree), for: &job, on: connection, logger: logger)
                .contains(.sendToAgent) else { return .full(jobID) }
            var files: [TieringJob.File] = []
            for try await (fileID, path, size, modified, hash) in try await connection.query("""
                SELECT file.file_id, file.file_path, file.file_size, inventory.last_modified, inventory.hash
                FROM tiering_job_files file
                JOIN file_inventory inventory
                    ON inventory.host_id = \(hostID) AND inventory.customer_id = file.customer_id AND inventory.id = file.file_id
                WHERE file.job_id = \(jobID) AND file.state = 'pending' ORDER BY file.file_id
                """, logger: logger).decode((Int64, String, Int64, Date, String?).self) {
                files.append(TieringJob.File(fileID: fileID, filePath: path, fileSize: size, lastModified: modified, hash: hash))
            }
            let payload = TieringJob(jobID: jobID, ruleID: ruleID, priority: priority, files: files, estimatedSpaceSaved: saved,
                                 estimatedDurationSeconds: duration, bandwidthBytesPerSecond: bandwidth,
                                 target: StorageTargetReference(id: targetID, kind: StorageTargetReference.Kind(rawValue: kind),
                                                                location: location, settingsJSON: settings, secretsJSON: secrets))
            let queue = AMQPTopology.agentQueue(customerID: customerID.uuidString, hostID: hostID.uuidString)
            try await Outbox.enqueue(Envelope(customerID: customerID, hostID: hostID, payload: payload), queue: queue,
                                     on: connection, logger: logger)
            redispatched.increment()
            logger.info("job dispatched from the queue", metadata: ["job": "\(jobID)", "tenant": "\(customerID)", "files": "\(files.count)"])
            return .dispatched
        }
    }
}
