import AltoModels
import Testing

/// Every state of a tiering job against every event, with what it moves to and what it asks for: the whole life
/// of a job, redeliveries, late and out-of-order reports, a silent agent and an unavailable tier, with no server.
@Suite struct TieringJobStateMachineTests {
    typealias Machine = TieringJobStateMachine
    typealias State = Machine.State

    /// The events, each kind of report apart: the job has 4 files.
    static let events: [(String, Machine.Event)] = [
        ("dispatch, slot free", .dispatchRequested(due: true, slotFree: true)),
        ("dispatch, no slot", .dispatchRequested(due: true, slotFree: false)),
        ("dispatch before its retry delay is over", .dispatchRequested(due: false, slotFree: true)),
        ("agent started", .agentStarted),
        ("some files reported", .filesReported(.init(total: 4, tiered: 1, pending: 3), unavailable: nil)),
        ("all files tiered", .filesReported(.init(total: 4, tiered: 4, pending: 0), unavailable: nil)),
        ("last files, some tiered", .filesReported(.init(total: 4, tiered: 2, pending: 0), unavailable: nil)),
        ("last files, none tiered", .filesReported(.init(total: 4, tiered: 0, pending: 0), unavailable: nil)),
        ("tier unavailable", .filesReported(.init(total: 4, tiered: 1, pending: 3), unavailable: "tier-2 not reachable")),
        ("agent silent", .agentSilent(since: "2026-12-01T10:00:00Z")),
        ("agent quiet about the job", .agentQuiet(since: "2026-12-01T09:00:00Z")),
        ("agent heard", .agentHeard),
    ]

    struct Expected: Equatable, CustomStringConvertible {
        var state: State
        var reason: String?
        var actions: [Machine.Action]
        var description: String { "\(state) (\(reason ?? "no reason")) \(actions)" }
    }

    static let unchanged: Expected? = nil
    static let retry = Expected(state: .queued, reason: "tier-2 not reachable", actions: [.retryLater(reason: "tier-2 not reachable")])
    static let done = Expected(state: .done, reason: nil, actions: [.markFinished])
    static let partial = Expected(state: .partiallyDone, reason: "2 of 4 files tiered", actions: [.markFinished])
    static let failed = Expected(state: .failed, reason: "none of its 4 files could be tiered", actions: [.markFinished])
    static let running = Expected(state: .running, reason: nil, actions: [])
    static let held = Expected(state: .held, reason: "agent not heard from since 2026-12-01T10:00:00Z", actions: [])
    static let sentAgain = Expected(state: .queued, reason: "no report from the agent since 2026-12-01T09:00:00Z; sent to it again",
                                    actions: [.dispatchWhenFree])

    /// Per state, in the order of `events`; nil: the event changes nothing and asks for nothing.
    static let table: [State: [Expected?]] = [
        .queued: [
            Expected(state: .dispatched, reason: nil, actions: [.sendToAgent]),
            Expected(state: .queued, reason: Machine.waitingForSlot, actions: []),
            unchanged,  // a redelivery while the tier is given time to come back
            unchanged,  // a start reported late, after the job was put back: it does not run
            unchanged,  // an earlier run's files; the rest waits for the next dispatch
            done, partial, failed,  // nothing is left to send
            retry,
            unchanged, unchanged, unchanged,
        ],
        .dispatched: [
            unchanged, unchanged, unchanged,  // redelivered: sent once
            running,
            running, done, partial, failed, retry,
            held, sentAgain,
            unchanged,
        ],
        .running: [
            unchanged, unchanged, unchanged, unchanged,
            running, done, partial, failed, retry,
            held, sentAgain,
            unchanged,
        ],
        .held: [
            unchanged, unchanged, unchanged,
            unchanged,  // a start may be older than the silence; files reported prove the agent works
            running, done, partial, failed, retry,
            unchanged, unchanged,
            Expected(state: .queued, reason: Machine.agentHeardAgain, actions: [.dispatchWhenFree]),
        ],
        .done: Array(repeating: unchanged, count: events.count),
        .partiallyDone: Array(repeating: unchanged, count: events.count),
        .failed: Array(repeating: unchanged, count: events.count),
    ]

    @Test func theTableCoversEveryStateAndEveryEvent() {
        #expect(Set(Self.table.keys) == Set(State.allCases))
        for (state, row) in Self.table { #expect(row.count == Self.events.count, "\(state)") }
    }

    @Test(arguments: State.allCases)
    func everyEventIn(state: State) {
        for (index, (name, event)) in Self.events.enumerated() {
            var machine = Machine(state: state, reason: "as it was")
            let actions = machine.handle(event)
            let expected = Self.table[state]![index] ?? Expected(state: state, reason: "as it was", actions: [])
            #expect(Expected(state: machine.state, reason: machine.reason, actions: actions) == expected, "\(state) + \(name)")
        }
    }

    @Test func aJobsWholeLifeWithAnUnavailableTierAndASilentAgent() {
        var job = Machine(state: .queued)
        #expect(job.handle(.dispatchRequested(due: true, slotFree: false)) == [])
        #expect(job.handle(.dispatchRequested(due: true, slotFree: true)) == [.sendToAgent])
        #expect(job.handle(.dispatchRequested(due: true, slotFree: true)) == [], "tiering.jobs redelivered: not sent twice")
        #expect(job.handle(.agentStarted) == [])
        #expect(job.handle(.filesReported(.init(total: 3, tiered: 0, pending: 3), unavailable: "no route to host"))
                == [.retryLater(reason: "no route to host")])
        #expect(job.handle(.agentStarted) == [] && job.state == .queued, "the start of that run, processed late")
        #expect(job.handle(.dispatchRequested(due: false, slotFree: true)) == [], "tiering.jobs redelivered before the retry delay")
        #expect(job.handle(.dispatchRequested(due: true, slotFree: true)) == [.sendToAgent])
        #expect(job.handle(.filesReported(.init(total: 3, tiered: 1, pending: 2), unavailable: nil)) == [])
        #expect(job.handle(.agentSilent(since: "10:00")) == [] && job.state == .held)
        #expect(job.handle(.agentHeard) == [.dispatchWhenFree] && job.state == .queued)
        #expect(job.handle(.dispatchRequested(due: true, slotFree: true)) == [.sendToAgent])
        #expect(job.handle(.agentQuiet(since: "10:30")) == [.dispatchWhenFree] && job.state == .queued, "its last report was lost")
        #expect(job.handle(.dispatchRequested(due: true, slotFree: true)) == [.sendToAgent])
        #expect(job.handle(.filesReported(.init(total: 3, tiered: 3, pending: 0), unavailable: nil)) == [.markFinished])
        #expect(job.state == .done)
        #expect(job.handle(.filesReported(.init(total: 3, tiered: 3, pending: 0), unavailable: nil)) == [], "a repeated answer")
        #expect(job.handle(.agentSilent(since: "11:00")) == [] && job.state == .done)
    }

    @Test func onlyFinishedStatesAreFinished() {
        #expect(State.allCases.filter(\.isFinished) == [.done, .partiallyDone, .failed])
    }
}
