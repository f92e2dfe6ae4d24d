import Foundation
import NIOConcurrencyHelpers

/// Slows password guessing: after `limit` failed logins for one email, or from one client address, within
/// `window`, further attempts are refused with 429 until the window has passed. Counts live in this replica's
/// memory; behind a load balancer each replica keeps its own.
final class LoginThrottle: Sendable {
    let limit: Int
    let window: Duration
    private let failures = NIOLockedValueBox<[String: [ContinuousClock.Instant]]>([:])

    init(limit: Int, window: Duration) {
        self.limit = limit
        self.window = window
    }

    /// How long until `keys` may try again; nil when they may now.
    func retryAfter(_ keys: [String], now: ContinuousClock.Instant = .now) -> Duration? {
        failures.withLockedValue { failures in
            keys.compactMap { key -> Duration? in
                let recent = (failures[key] ?? []).filter { now - $0 < window }
                failures[key] = recent.isEmpty ? nil : recent
                guard recent.count >= limit, let oldest = recent.first else { return nil }
                return window - (now - oldest)
            }.max()
        }
    }

    func recordFailure(_ keys: [String], now: ContinuousClock.Instant = .now) {
        failures.withLockedValue { failures in
            for key in keys { failures[key, default: []].append(now) }
        }
    }

    func recordSuccess(_ keys: [String]) {
        failures.withLockedValue { failures in
            for key in keys { failures[key] = nil }
        }
    }
}
