import Foundation
import Synchronization

/// A token bucket shared by every transfer to one target, so the target's bandwidth cap holds however many files
/// move at once. Callers block (on a blocking thread) until their bytes fit.
public final class BandwidthLimiter: Sendable {
    public let bytesPerSecond: Int64
    private struct Bucket {
        var available: Double
        var refilledAt: UInt64
    }
    private let bucket: Mutex<Bucket>

    public init(bytesPerSecond: Int64) {
        precondition(bytesPerSecond > 0)
        self.bytesPerSecond = bytesPerSecond
        bucket = Mutex(Bucket(available: Double(bytesPerSecond) / 10, refilledAt: DispatchTime.now().uptimeNanoseconds))
    }

    /// Takes `count` bytes from the bucket, sleeping as long as the cap requires.
    public func consume(_ count: Int) {
        let wait = bucket.withLock { bucket -> Double in
            let now = DispatchTime.now().uptimeNanoseconds
            let rate = Double(bytesPerSecond)
            bucket.available = min(rate / 10, bucket.available + Double(now - bucket.refilledAt) / 1e9 * rate)
            bucket.refilledAt = now
            bucket.available -= Double(count)
            return bucket.available < 0 ? -bucket.available / rate : 0
        }
        if wait > 0 { usleep(useconds_t(min(wait, 60) * 1_000_000)) }
    }
}
