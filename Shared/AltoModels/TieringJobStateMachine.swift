/// The life of a tiering job, decided in one place: the actor reads a job's stored state, hands the machine what
/// just happened (the job was delivered or swept up, the agent started it or reported files, the agent went silent
/// or was heard again), stores the state the machine moves to, and carries out the actions it returns.
///
/// Messages arrive at least once and in any order (actor replicas consume `agent.results` side by side), so every
/// event is taken for what it may be: a redelivered dispatch of a job already sent is ignored, a start reported
/// after the job was put back does not pretend it runs, and a finished job stays finished.
public struct TieringJobStateMachine: Sendable, Equatable {
    public enum State: String, Sendable, Equatable, CaseIterable {
        /// Waiting to be sent to its agent: new, put back, or waiting for a free slot.
        case queued
        /// On its agent's queue; counts against its host's and target's limits.
        case dispatched
        /// The agent said it started, or has reported some files.
        case running
        /// Its agent stopped sending heartbeats while it was in flight.
        case held
        case done
        case partiallyDone = "partially_done"
        case failed

        /// A finished job takes no further part.
        public var isFinished: Bool { self == .done || self == .partiallyDone || self == .failed }
    }

    /// A job's files once a report's outcomes are recorded.
    public struct Files: Sendable, Equatable {
        public var total: Int
        public var tiered: Int
        /// Not tried yet, or deferred because the tier could not be reached.
        public var pending: Int

        public init(total: Int, tiered: Int, pending: Int) {
            self.total = total
            self.tiered = tiered
            self.pending = pending
        }
    }

    public enum Event: Sendable, Equatable {
        /// `tiering.jobs` delivered the job (for the first time or again), or the sweeper found it; `due` says
        /// whether its retry delay, if any, is over, and `slotFree` whether its host and target take one more job.
        case dispatchRequested(due: Bool, slotFree: Bool)
        /// The agent said it started the job.
        case agentStarted
        /// The agent reported some files' outcomes; `files` counts the job's files with them recorded, and
        /// `unavailable` says why, when files were deferred because the tier could not be reached.
        case filesReported(Files, unavailable: String?)
        /// The job's agent has sent no heartbeat since `since`.
        case agentSilent(since: String)
        /// The job's agent sends heartbeats but has said nothing of the job since `since`, far longer than the job
        /// should take: its report may have been lost.
        case agentQuiet(since: String)
        /// The job's agent is heard again.
        case agentHeard
    }

    public enum Action: Sendable, Equatable {
        /// Put the job on its host's own queue and count the dispatch.
        case sendToAgent
        /// Note when the job finished.
        case markFinished
        /// Send it again no sooner than the retry delay, and say loudly that the tier is unavailable.
        case retryLater(reason: String)
        /// Send it again as soon as a slot is free, whatever delay it had.
        case dispatchWhenFree
    }

    public private(set) var state: State
    /// Why the job is where it is, for the admin; nil when nothing needs saying.
    public private(set) var reason: String?

    public static let waitingForSlot = "waiting for a free slot on its host or target"
    public static let agentHeardAgain = "agent heard again"

    public init(state: State, reason: String? = nil) {
        self.state = state
        self.reason = reason
    }

    /// Moves the job on for `event` and returns what must be done about it, in order. An event that means nothing
    /// in the current state (a redelivery, a late report) leaves the job as it is and asks for nothing.
    public mutating func handle(_ event: Event) -> [Action] {
        switch (state, event) {
        case (.queued, .dispatchRequested(due: true, slotFree: true)):
            return move(to: .dispatched, reason: nil, [.sendToAgent])
        case (.queued, .dispatchRequested(due: true, slotFree: false)):
            return move(to: .queued, reason: Self.waitingForSlot, [])

        case (.dispatched, .agentStarted):
            return move(to: .running, reason: nil, [])

        case (.queued, .filesReported(_, let unavailable?)), (.dispatched, .filesReported(_, let unavailable?)),
             (.running, .filesReported(_, let unavailable?)), (.held, .filesReported(_, let unavailable?)):
            return move(to: .queued, reason: unavailable, [.retryLater(reason: unavailable)])
        case (.queued, .filesReported(let files, nil)) where files.pending > 0:
            // A report of an earlier run, after the job was put back: the rest waits for the next dispatch.
            return []
        case (.dispatched, .filesReported(let files, nil)) where files.pending > 0,
             (.running, .filesReported(let files, nil)) where files.pending > 0,
             (.held, .filesReported(let files, nil)) where files.pending > 0:
            return move(to: .running, reason: nil, [])
        case (.queued, .filesReported(let files, nil)),
             (.dispatched, .filesReported(let files, nil)),
             (.running, .filesReported(let files, nil)),
             (.held, .filesReported(let files, nil)):
            return finish(files)

        case (.dispatched, .agentSilent(let since)), (.running, .agentSilent(let since)):
            return move(to: .held, reason: "agent not heard from since \(since)", [])
        case (.dispatched, .agentQuiet(let since)), (.running, .agentQuiet(let since)):
            // Sent again: an agent still running the job waits for it and answers once, one that finished answers
            // from its journal, and the files already recorded take no outcome twice.
            return move(to: .queued, reason: "no report from the agent since \(since); sent to it again", [.dispatchWhenFree])
        case (.held, .agentHeard):
            return move(to: .queued, reason: Self.agentHeardAgain, [.dispatchWhenFree])

        case (.queued, .dispatchRequested(due: false, _)),
             (.dispatched, .dispatchRequested), (.running, .dispatchRequested), (.held, .dispatchRequested),
             (.queued, .agentStarted), (.running, .agentStarted), (.held, .agentStarted),
             (.queued, .agentSilent), (.held, .agentSilent), (.queued, .agentQuiet), (.held, .agentQuiet),
             (.queued, .agentHeard), (.dispatched, .agentHeard), (.running, .agentHeard),
             (.done, _), (.partiallyDone, _), (.failed, _):
            return []
        }
    }

    /// Every file has an outcome: done when all tiered, partially done when some did, failed when none did.
    private mutating func finish(_ files: Files) -> [Action] {
        if files.tiered == files.total { return move(to: .done, reason: nil, [.markFinished]) }
        if files.tiered > 0 {
            return move(to: .partiallyDone, reason: "\(files.tiered) of \(files.total) files tiered", [.markFinished])
        }
        return move(to: .failed, reason: "none of its \(files.total) files could be tiered", [.markFinished])
    }

    private mutating func move(to next: State, reason: String?, _ actions: [Action]) -> [Action] {
        state = next
        self.reason = reason
        return actions
    }
}
