import Foundation

/// Settings the central suite pushes to one agent (`agent.<customer_id>.<host_id>`): what to scan, when, and within which limits.
/// The agent keeps the newest one it received, so it applies after a restart too.
public struct AgentConfiguration: EnvelopePayload {
    public static let messageType = "agent.configuration"

    /// Bumped on every change, so an agent ignores an older configuration that arrives late.
    public var revision: Int
    public var managedRoots: [String]
    /// Seconds between full scans; nil for no scheduled scans.
    public var scanIntervalSeconds: Int?
    /// Globs excluded from scans and tiering, for example `**/.snapshot/**`.
    public var exclusions: [String]
    /// The most bytes per second tiering may read; nil for no limit.
    public var bandwidthBytesPerSecond: Int64?
    public var maxConcurrentFiles: Int

    public init(revision: Int, managedRoots: [String], scanIntervalSeconds: Int?, exclusions: [String],
                bandwidthBytesPerSecond: Int64?, maxConcurrentFiles: Int) {
        self.revision = revision
        self.managedRoots = managedRoots
        self.scanIntervalSeconds = scanIntervalSeconds
        self.exclusions = exclusions
        self.bandwidthBytesPerSecond = bandwidthBytesPerSecond
        self.maxConcurrentFiles = maxConcurrentFiles
    }

    enum CodingKeys: String, CodingKey {
        case revision
        case managedRoots = "managed_roots"
        case scanIntervalSeconds = "scan_interval_seconds"
        case exclusions
        case bandwidthBytesPerSecond = "bandwidth_bytes_per_second"
        case maxConcurrentFiles = "max_concurrent_files"
    }
}
