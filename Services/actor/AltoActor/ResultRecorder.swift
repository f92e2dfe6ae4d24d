import AltoAMQP
import AltoCentral
import AltoModels
import AltoRuntime
import AltoStore
import Foundation
import Logging
import Metrics
import PostgresNIO

/// Records what an agent reported: stub registry, inventory flags, per-file job state, the job's final state, an
/// audit row per file, and a notification, all in one transaction keyed by the result's envelope id.
struct ResultRecorder: Sendable {
    let postgres: PostgresClient
    let jobs: TieringJobStore
    let auditTrail: AuditTrail
    /// The central services' broker login, which signs the results this service puts back.
    let centralLogin: String
    let logger: Logger
    private let tierUnavailable = Counter(label: "alto_actor_tier_unavailable_total")
    private let bytesSaved = Counter(label: "alto_actor_bytes_saved_total")
    private let securityEvents = Counter(label: "alto_actor_security_events_total")

    init(postgres: PostgresClient, jobs: TieringJobStore, auditTrail: AuditTrail, centralLogin: String, logger: Logger) {
        self.postgres = postgres
        self.jobs = jobs
        self.auditTrail = auditTrail
        self.centralLogin = centralLogin
        self.logger = logger
    }

    func handle(_ delivery: AMQPDelivery) async -> AMQPSettlement {
        await HostMessage.handle(delivery, as: AgentResult.self, logger: logger,
                                 failure: MessageFailure.settlement) { envelope, hostID, logger in
            var logger = logger
            logger[metadataKey: "job"] = "\(envelope.payload.jobID?.uuidString ?? "none")"
            // The broker checks `user-id` against the publisher's login, and each host's login is its own.
            let sender = AMQPTopology.agentUser(hostID: hostID.uuidString)
            let message = delivery.message
            // A result this service put back after a failure is signed by its own login and names its first sender.
            let signed = message.userID == sender
                || (message.userID == centralLogin && message.headers[AMQPQueueWorker.publishedByHeader] == sender)
            guard signed else {
                securityEvents.increment()
                return .deadLetter(reason: "a result about host \(hostID) must be published by its broker account \(sender), "
                                   + "not by \(delivery.message.userID.map { "account \($0)" } ?? "an account that did not sign it")")
            }
            guard try await isKnown(hostID, of: envelope.customerID, logger: logger) else {
                return .deadLetter(reason: "host \(hostID) of tenant \(envelope.customerID) is not enrolled")
            }
            do {
                try await record(envelope, hostID: hostID, logger: logger)
            } catch let foreign as ForeignResult {
                securityEvents.increment()
                return .deadLetter(reason: foreign.reason)
            }
            return .ack
        }
    }

    /// A result that names what is not its host's: another host's job or file, or a target its job does not use.
    struct ForeignResult: Error {
        var reason: String
    }

    /// A result names a host of its tenant, or it can never be recorded: retrying it would only hold up the rest.
    private func isKnown(_ hostID: UUID, of customerID: UUID, logger: Logger) async throws -> Bool {
        try await postgres.withTenant(customerID, logger: logger) { connection in
            let rows = try await connection.query("SELECT 1 FROM hosts WHERE id = \(hostID) AND customer_id = \(customerID)", logger: logger)
            for try await _ in rows { return true }
            return false
        }
    }

    private func record(_ envelope: Envelope<AgentResult>, hostID: UUID, logger: Logger) async throws {
        let result = envelope.payload
        let customerID = envelope.customerID
        try await postgres.withTenant(customerID, logger: logger) { connection in
            guard try await Outbox.markProcessed(consumer: "actor.results", messageID: envelope.id,
                                                     customerID: envelope.customerID, on: connection, logger: logger) else {
                return
            }
            // The job's reports take turns, whichever replica has them, so each sees the files the others recorded.
            let job: TieringJobStore.Job?
            var recallJob: UUID?
            if result.action == .tier, let jobID = result.jobID {
                job = try await jobs.lock(jobID, customerID: customerID, hostID: hostID, on: connection, logger: logger)
                guard job != nil else { throw ForeignResult(reason: "tiering job \(jobID) is not a job of host \(hostID)") }
                try await requireTarget(result.targetID, of: jobID, on: connection, logger: logger)
            } else if result.action == .recall, let jobID = result.jobID {
                recallJob = try await ownRecallJob(jobID, of: hostID, customerID: customerID, on: connection, logger: logger)
                job = nil
            } else {
                job = nil
            }
            var saved: Int64 = 0
            var series = SavingsSeries()
            var audit: [AuditRecord] = []
            var applied: [AgentResult.File] = []
            for file in result.files {
                switch result.action {
                case .tier:
                    guard try await isNew(file, of: job, customerID: customerID, connection: connection, logger: logger) else { continue }
                    if file.outcome == .tiered {
                        let freed = max(0, (file.allocatedBefore ?? file.size) - (file.allocatedAfter ?? 0))
                        let stub = try await recordTiered(file, freed: freed, result: result, jobID: job?.id, customerID: customerID,
                                                          hostID: hostID, connection: connection, logger: logger)
                        switch (stub, result.targetID) {
                        case (.made, let targetID?):
                            saved += freed
                            series.addTiered(target: targetID, bytes: file.size, freed: freed)
                        case (.madeAgain(let before), let targetID?):
                            saved += freed - before
                            series.addRetiered(target: targetID, freedChange: freed - before)
                        default:
                            break
                        }
                    }
                case .security:
                    securityEvents.increment()
                    logger.warning("security event on a host", metadata: ["path": "\(file.filePath)", "reason": "\(file.reason ?? "")"])
                case .recall:
                    if file.outcome == .recalled,
                       let stub = try await recordRecalled(file, customerID: customerID, hostID: hostID, connection: connection, logger: logger) {
                        series.addRecalled(target: stub.targetID, bytes: stub.size, freed: stub.freed)
                    }
                    if let jobID = recallJob {
                        try await connection.query("""
                            UPDATE recall_job_files SET state = \(file.outcome == .recalled ? "recalled" : "failed"), reason = \(file.reason)
                            WHERE job_id = \(jobID) AND customer_id = \(customerID) AND file_path = \(file.filePath)
                            """, logger: logger)
                    }
                }
                applied.append(file)
                audit.append(AuditRecord(
                    actor: "agent:\(hostID.uuidString.lowercased())",
                    action: result.action == .security ? "security.stub_record" : "file.\(result.action.rawValue)", target: file.filePath,
                    result: result.action == .security ? "refused" : file.outcome.rawValue,
                    details: ["job_id": result.jobID?.uuidString.lowercased(), "reason": file.reason, "hash": file.hash,
                              "tiered_location": file.tieredLocation]))
            }
            try await auditTrail.append(audit, customerID: customerID, on: connection, logger: logger)
            try await series.record(customerID: customerID, hostID: hostID, on: connection, logger: logger)
            if let jobID = recallJob {
                try await finishRecall(jobID, customerID: customerID, connection: connection, logger: logger)
            }
            if var job {
                let files = try await jobs.files(of: job, on: connection, logger: logger)
                let deferred = applied.filter { $0.outcome == .deferred }
                let unavailable = deferred.isEmpty ? nil : deferred.compactMap(\.reason).first ?? "tier-2 storage unavailable"
                // The agent says it started with a report of no files; one of no files with none left is the last.
                let event: TieringJobStateMachine.Event = result.files.isEmpty && files.pending > 0
                    ? .agentStarted : .filesReported(files, unavailable: unavailable)
                for case .retryLater(let reason) in try await jobs.handle(event, for: &job, bytesSaved: saved, on: connection, logger: logger) {
                    let alert = envelope.reply(AltoNotification(event: "storage.unavailable", jobID: job.id,
                                                                summary: "tier-2 storage unavailable; job put back: \(reason)", counts: [:]))
                    try await Outbox.enqueue(alert, exchange: AMQPTopology.notificationsExchange, routingKey: "", on: connection, logger: logger)
                    tierUnavailable.increment()
                    logger.error("tier-2 storage unavailable; the job goes back to the queue", metadata: ["reason": "\(reason)"])
                }
            }
            guard !applied.isEmpty else {
                logger.info(result.files.isEmpty ? "agent started the job" : "agent result already recorded; nothing new")
                return
            }
            let counts = Dictionary(grouping: applied, by: \.outcome.rawValue).mapValues { Int64($0.count) }
            let notification = envelope.reply(AltoNotification(
                event: result.action == .security ? "security.event" : "\(result.action.rawValue).finished", jobID: result.jobID,
                summary: "\(result.action.rawValue): " + counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "),
                counts: counts.merging(["bytes_saved": saved]) { a, _ in a }))
            try await Outbox.enqueue(notification, exchange: AMQPTopology.notificationsExchange, routingKey: "",
                                     on: connection, logger: logger)
            for (key, files) in Dictionary(grouping: applied, by: { FileOutcomeKey(outcome: $0.outcome.rawValue, reason: $0.reasonLabel) }) {
                Counter(label: "alto_actor_files_total",
                        dimensions: [("action", result.action.rawValue), ("outcome", key.outcome), ("reason", key.reason)])
                    .increment(by: files.count)
            }
            bytesSaved.increment(by: Int(saved))
            logger.info("agent result recorded", metadata: ["files": "\(applied.count)", "bytes_saved": "\(saved)"])
        }
    }

    /// Whether a file's tiering outcome is news. A file of a job takes its outcome once, while it is pending
    /// (deferred puts it back to pending), so a report handled late or sent again, as an agent answering a
    /// redelivered job from its journal does, changes nothing and counts nothing twice. A file of a result that names
    /// no job is recorded for the stub the agent made, apart from any job (a result naming another host's job never
    /// gets here).
    private func isNew(_ file: AgentResult.File, of job: TieringJobStore.Job?, customerID: UUID, connection: PostgresConnection,
                       logger: Logger) async throws -> Bool {
        guard let job, let fileID = file.fileID else { return true }
        let rows = try await connection.query("""
            UPDATE tiering_job_files SET state = \(file.outcome == .deferred ? "pending" : file.outcome.rawValue), reason = \(file.reason)
            WHERE job_id = \(job.id) AND file_id = \(fileID) AND customer_id = \(customerID) AND state = 'pending'
            RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// What recording a tiered file did to the registry.
    enum RecordedStub {
        /// A stub the registry did not have: all it freed is saved.
        case made
        /// The registry's active stub of the path, at the same copy, recorded again (the result sent twice, the copy
        /// made again): `before` is what it had freed, so only the difference is new.
        case madeAgain(before: Int64)
        /// Nothing recorded: the result named no copy.
        case nothing
    }

    private func recordTiered(_ file: AgentResult.File, freed: Int64, result: AgentResult, jobID: UUID?, customerID: UUID, hostID: UUID,
                              connection: PostgresConnection, logger: Logger) async throws -> RecordedStub {
        guard let location = file.tieredLocation, let hash = file.hash else { return .nothing }
        // A path tiered again while its registered stub is another copy's (the stub was moved away and a new file
        // took its name): the earlier row stays, as deleted, so its copy is kept for the stub that may still need it
        // and is never taken for an orphan.
        try await connection.query("""
            UPDATE stub_registry SET state = 'deleted', deleted_at = now()
            WHERE customer_id = \(customerID) AND host_id = \(hostID) AND file_path = \(file.filePath) AND state = 'active'
              AND tiered_location <> \(location)
            """, logger: logger)
        let before = try await connection.query("""
            SELECT coalesce(bytes_saved, size) FROM stub_registry
            WHERE customer_id = \(customerID) AND host_id = \(hostID) AND file_path = \(file.filePath) AND state = 'active'
            """, logger: logger).collect().first.map { try $0.decode(Int64.self) }
        // The stub is recorded only for a file this host has in the inventory, by id when the result gives one.
        let recorded = try await connection.query("""
            INSERT INTO stub_registry (customer_id, host_id, file_id, file_path, target_id, tiered_location, hash, size, job_id,
                                       wrapped_key, stored_bytes, stub_handle, bytes_saved)
            SELECT \(customerID), \(hostID), inventory.id, inventory.file_path, \(result.targetID), \(location), \(hash),
                   \(file.size), \(jobID), \(file.wrappedKey), \(file.storedBytes), \(file.stubHandle), \(freed)
            FROM file_inventory AS inventory
            WHERE inventory.customer_id = \(customerID) AND inventory.host_id = \(hostID) AND inventory.file_path = \(file.filePath)
              AND (\(file.fileID)::bigint IS NULL OR inventory.id = \(file.fileID))
            ON CONFLICT (host_id, file_path) WHERE state = 'active' DO UPDATE SET
                tiered_location = EXCLUDED.tiered_location, hash = EXCLUDED.hash, size = EXCLUDED.size,
                job_id = EXCLUDED.job_id, wrapped_key = EXCLUDED.wrapped_key, stored_bytes = coalesce(EXCLUDED.stored_bytes, stub_registry.stored_bytes),
                stub_handle = coalesce(EXCLUDED.stub_handle, stub_registry.stub_handle), bytes_saved = EXCLUDED.bytes_saved, created_at = now(),
                at_risk = false
            RETURNING 1
            """, logger: logger)
        var found = false
        for try await _ in recorded { found = true }
        guard found else {
            throw ForeignResult(reason: "\(file.fileID.map { "file \($0) at " } ?? "")\(file.filePath) is not a file of host \(hostID)")
        }
        try await connection.query("""
            UPDATE file_inventory SET is_stubbed = true, stub_created_at = \(result.finishedAt), tiered_location = \(location),
                hash = \(hash), updated_at = now()
            WHERE host_id = \(hostID) AND customer_id = \(customerID) AND file_path = \(file.filePath)
            """, logger: logger)
        return before.map { .madeAgain(before: $0) } ?? .made
    }

    /// A tiering result names the target its job copies to, or none.
    private func requireTarget(_ targetID: UUID?, of jobID: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        guard let targetID else { return }
        for try await jobTarget in try await connection.query(
            "SELECT target_id FROM tiering_jobs WHERE id = \(jobID)", logger: logger).decode(UUID.self) where jobTarget != targetID {
            throw ForeignResult(reason: "tiering job \(jobID) copies to target \(jobTarget), not \(targetID)")
        }
    }

    /// The recall job a result names, when it is one of this host's; the recall itself happened on the host's
    /// own files either way, and is recorded, but another host's job is left alone.
    private func ownRecallJob(_ jobID: UUID, of hostID: UUID, customerID: UUID, on connection: PostgresConnection,
                              logger: Logger) async throws -> UUID? {
        for try await _ in try await connection.query("""
            SELECT 1 FROM recall_jobs WHERE id = \(jobID) AND customer_id = \(customerID) AND host_id = \(hostID)
            """, logger: logger) {
            return jobID
        }
        logger.warning("a recall result names a recall job that is not this host's; its files are recorded apart from it",
                       metadata: ["recall.job": "\(jobID)"])
        return nil
    }

    /// Marks the file's stub recalled and returns what it had saved, or nil when no active stub was there.
    private func recordRecalled(_ file: AgentResult.File, customerID: UUID, hostID: UUID,
                                connection: PostgresConnection, logger: Logger) async throws -> (targetID: UUID, size: Int64, freed: Int64)? {
        let recalled = try await connection.query("""
            UPDATE stub_registry SET state = 'recalled', recalled_at = now()
            WHERE host_id = \(hostID) AND customer_id = \(customerID) AND file_path = \(file.filePath) AND state = 'active'
            RETURNING target_id, size, coalesce(bytes_saved, size)
            """, logger: logger).collect().map { try $0.decode((UUID?, Int64, Int64).self) }
        try await connection.query("""
            UPDATE file_inventory SET is_stubbed = false, stub_created_at = NULL, tiered_location = NULL, updated_at = now()
            WHERE host_id = \(hostID) AND customer_id = \(customerID) AND file_path = \(file.filePath)
            """, logger: logger)
        guard let (targetID, size, freed) = recalled.first, let targetID else { return nil }
        return (targetID, size, freed)
    }

    private func finishRecall(_ jobID: UUID, customerID: UUID, connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("""
            UPDATE recall_jobs SET finished_at = now(),
                state = CASE WHEN counts.recalled = counts.total THEN 'done' WHEN counts.recalled > 0 THEN 'partially_done' ELSE 'failed' END
            FROM (SELECT count(*) AS total, count(*) FILTER (WHERE state = 'recalled') AS recalled
                  FROM recall_job_files WHERE job_id = \(jobID)) AS counts
            WHERE recall_jobs.id = \(jobID) AND recall_jobs.customer_id = \(customerID)
            """, logger: logger)
    }
}

/// A file outcome as metrics count it: outcome and reason code.
private struct FileOutcomeKey: Hashable {
    var outcome: String
    var reason: String
}
