import Foundation

/// Admits recalls on this host at most `concurrency` at once and `perSecond` per second, in arrival order: a recall
/// storm (a user selecting a whole folder) waits its turn instead of saturating the link and the tier.
actor RecallThrottle {
    private let concurrency: Int
    private let interval: Duration
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var nextStart = ContinuousClock.now

    init(concurrency: Int, perSecond: Double) {
        self.concurrency = max(1, concurrency)
        interval = .nanoseconds(Int64(1e9 / max(0.1, perSecond)))
    }

    /// Recalls admitted and not yet finished, which tiering waits for.
    var active: Int { running + waiting.count }

    func acquire() async {
        if running < concurrency {
            running += 1
        } else {
            await withCheckedContinuation { waiting.append($0) }
        }
        let start = max(ContinuousClock.now, nextStart)
        nextStart = start + interval
        try? await Task.sleep(until: start, clock: .continuous)
    }

    func release() {
        if waiting.isEmpty {
            running -= 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
