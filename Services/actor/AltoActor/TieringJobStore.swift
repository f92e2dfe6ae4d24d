import AltoModels
import AltoStore
import Foundation
import Logging
import PostgresNIO

/// Where the actor keeps tiering jobs' states. A job's row is read under a row lock, so the actor replicas handling
/// its messages take turns, handed to its `TieringJobStateMachine`, and written back with what the machine decided:
/// the SQL here only stores decisions, it makes none.
struct TieringJobStore: Sendable {
    /// One job as its state machine sees it, locked by the caller's transaction.
    struct Job: Sendable {
        let id: UUID
        fileprivate(set) var machine: TieringJobStateMachine
        /// Whether a retry delay the job was given is over (or it has none).
        let isDue: Bool

        var state: TieringJobStateMachine.State { machine.state }

        /// A row the caller's own query locked.
        init(id: UUID, state: TieringJobStateMachine.State, reason: String?, isDue: Bool = true) {
            self.id = id
            self.machine = TieringJobStateMachine(state: state, reason: reason)
            self.isDue = isDue
        }
    }

    /// How long a job put back because its tier was unavailable waits before it is sent again.
    let retryDelay: Duration

    /// Locks the job's row until the transaction ends; nil when the tenant has no such job (for that host).
    func lock(_ id: UUID, customerID: UUID, hostID: UUID? = nil, on connection: PostgresConnection, logger: Logger) async throws -> Job? {
        let rows = try await connection.query("""
            SELECT state, state_reason, coalesce(not_before <= now(), true) FROM tiering_jobs
            WHERE id = \(id) AND customer_id = \(customerID) AND (\(hostID)::uuid IS NULL OR host_id = \(hostID))
            FOR UPDATE
            """, logger: logger)
        for try await (state, reason, isDue) in rows.decode((String, String?, Bool).self) {
            return Job(id: id, state: try Self.state(state, of: id), reason: reason, isDue: isDue)
        }
        return nil
    }

    /// A state as the database spells it.
    static func state(_ text: String, of id: UUID) throws -> TieringJobStateMachine.State {
        guard let state = TieringJobStateMachine.State(rawValue: text) else {
            throw StoreError(.configuration, "tiering job \(id) is \(text), a state this build does not know")
        }
        return state
    }

    /// The job's files as their rows stand now.
    func files(of job: Job, on connection: PostgresConnection, logger: Logger) async throws -> TieringJobStateMachine.Files {
        let rows = try await connection.query("""
            SELECT count(*), count(*) FILTER (WHERE state = 'tiered'), count(*) FILTER (WHERE state = 'pending')
            FROM tiering_job_files WHERE job_id = \(job.id)
            """, logger: logger)
        var files = TieringJobStateMachine.Files(total: 0, tiered: 0, pending: 0)
        for try await (total, tiered, pending) in rows.decode((Int, Int, Int).self) {
            files = TieringJobStateMachine.Files(total: total, tiered: tiered, pending: pending)
        }
        return files
    }

    /// Hands `event` to the job's machine and stores where the job is now, with what the actions say of its
    /// dispatch count, retry time and finish time; returns the actions, for the caller to carry out the rest (the
    /// message to the agent, the alarm). Nothing is written when the event changed nothing, except that word from
    /// the agent always marks the job as heard of (`updated_at`), which is how a quiet job is told from a busy one.
    func handle(_ event: TieringJobStateMachine.Event, for job: inout Job, bytesSaved: Int64 = 0,
                on connection: PostgresConnection, logger: Logger) async throws -> [TieringJobStateMachine.Action] {
        let before = job.machine
        let actions = job.machine.handle(event)
        let machine = job.machine
        guard machine != before || !actions.isEmpty || bytesSaved != 0 || Self.isFromTheAgent(event) else { return actions }
        let sent = actions.contains(.sendToAgent)
        let finished = actions.contains(.markFinished)
        let retries = actions.contains { if case .retryLater = $0 { true } else { false } }
        let clearsRetry = actions.contains(.dispatchWhenFree) || sent
        try await connection.query("""
            UPDATE tiering_jobs SET state = \(machine.state.rawValue), state_reason = \(machine.reason), updated_at = now(),
                bytes_saved = bytes_saved + \(bytesSaved),
                dispatched_at = CASE WHEN \(sent) THEN now() ELSE dispatched_at END,
                dispatch_count = dispatch_count + CASE WHEN \(sent) THEN 1 ELSE 0 END,
                finished_at = CASE WHEN \(finished) THEN now() WHEN \(machine.state.isFinished) THEN finished_at END,
                not_before = CASE WHEN \(retries) THEN now() + \(Double(retryDelay.components.seconds)) * interval '1 second'
                                  WHEN \(clearsRetry) THEN NULL ELSE not_before END
            WHERE id = \(job.id)
            """, logger: logger)
        return actions
    }

    private static func isFromTheAgent(_ event: TieringJobStateMachine.Event) -> Bool {
        switch event {
        case .agentStarted, .filesReported: true
        case .dispatchRequested, .agentSilent, .agentQuiet, .agentHeard: false
        }
    }
}
