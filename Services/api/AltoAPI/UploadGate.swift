import Foundation
import Synchronization

/// How many uploads one API process receives at once, in all and per host: a host that opens more connections
/// than its share is told to wait (429) instead of taking the spool and the decompression time from the others.
final class UploadGate: Sendable {
    private struct Counts {
        var total = 0
        var perHost: [UUID: Int] = [:]
    }

    private let counts = Mutex(Counts())
    private let maximum: Int
    private let maximumPerHost: Int

    init(maximum: Int, maximumPerHost: Int) {
        self.maximum = max(1, maximum)
        self.maximumPerHost = max(1, maximumPerHost)
    }

    /// Runs `body` as one of the uploads in progress, or refuses at once when the host or the process has its fill.
    func admit<Result>(host: UUID, _ body: () async throws -> Result) async throws -> Result {
        try counts.withLock { counts in
            guard counts.perHost[host, default: 0] < maximumPerHost else {
                throw APIError(.tooManyRequests, "too_many_uploads",
                               "this host already sends \(maximumPerHost) batches at once; send the next when one is answered",
                               retryAfter: 5)
            }
            guard counts.total < maximum else {
                throw APIError(.serviceUnavailable, "too_many_uploads",
                               "this API process receives \(maximum) batches at once already; try again shortly", retryAfter: 5)
            }
            counts.total += 1
            counts.perHost[host, default: 0] += 1
        }
        defer {
            counts.withLock { counts in
                counts.total -= 1
                counts.perHost[host, default: 1] -= 1
                if counts.perHost[host] == 0 { counts.perHost[host] = nil }
            }
        }
        return try await body()
    }
}
