import AltoPlanning
import Foundation
import Logging
import PostgresNIO

/// The answer of a what-if plan: per host and rule, what it matched and what a plan would take now, with the
/// estimates the jobs would carry.
struct WhatIfReport: Encodable {
    struct Directory: Encodable {
        var path: String
        var bytes: Int64
    }

    struct Rule: Encodable {
        var ruleID: UUID
        var name: String
        var priority: Int
        var targetID: UUID
        var filesMatched: Int
        var bytesMatched: Int64
        var filesPlanned: Int
        var bytesPlanned: Int64
        /// Matched files a cap or a watermark leaves for a later run.
        var filesDeferred: Int
        var estimatedSpaceSaved: Int64
        var estimatedTransferSeconds: Double
        var bandwidthBytesPerSecond: Int64
        var topDirectories: [Directory]

        enum CodingKeys: String, CodingKey {
            case ruleID = "rule_id"
            case name, priority
            case targetID = "target_id"
            case filesMatched = "files_matched"
            case bytesMatched = "bytes_matched"
            case filesPlanned = "files_planned"
            case bytesPlanned = "bytes_planned"
            case filesDeferred = "files_deferred"
            case estimatedSpaceSaved = "estimated_space_saved"
            case estimatedTransferSeconds = "estimated_transfer_seconds"
            case bandwidthBytesPerSecond = "bandwidth_bytes_per_second"
            case topDirectories = "top_directories"
        }
    }

    struct Host: Encodable {
        var hostID: UUID
        var filesEvaluated: Int
        var rules: [Rule]

        enum CodingKeys: String, CodingKey {
            case hostID = "host_id"
            case filesEvaluated = "files_evaluated"
            case rules
        }

        init(hostID: UUID, result: HostPlanComputation.Result) {
            self.hostID = hostID
            filesEvaluated = result.filesEvaluated
            rules = result.outcomes.map { outcome in
                let bandwidth = result.targets[outcome.rule.targetID]?.bandwidthBytesPerSecond ?? PlanTarget.defaultBandwidth
                return Rule(ruleID: outcome.rule.id, name: outcome.rule.name, priority: outcome.rule.priority,
                            targetID: outcome.rule.targetID, filesMatched: outcome.matchedFiles, bytesMatched: outcome.matchedBytes,
                            filesPlanned: outcome.taken.candidates.count, bytesPlanned: outcome.taken.bytes,
                            filesDeferred: outcome.taken.deferred, estimatedSpaceSaved: outcome.taken.bytes,
                            estimatedTransferSeconds: Double(outcome.taken.bytes) / Double(bandwidth),
                            bandwidthBytesPerSecond: bandwidth,
                            topDirectories: outcome.topDirectories(10).map { Directory(path: $0.path, bytes: $0.bytes) })
            }
        }
    }

    var dryRun = true
    var hosts: [Host]

    /// What a plan of each host would do now, on the connection's transaction as it stands: a caller that has
    /// written a rule it has not committed sees that rule's effect.
    static func compute(customerID: UUID, hosts: [UUID], minimumFileBytes: Int64, caps: PlanSelection.RunCaps = .init(),
                        on connection: PostgresConnection, logger: Logger) async throws -> WhatIfReport {
        var reports: [Host] = []
        for hostID in hosts {
            let computation = HostPlanComputation(customerID: customerID, hostID: hostID, minimumFileBytes: minimumFileBytes,
                                                  caps: caps, collectDirectories: true)
            reports.append(Host(hostID: hostID, result: try await computation.run(on: connection, logger: logger)))
        }
        return WhatIfReport(hosts: reports)
    }

    enum CodingKeys: String, CodingKey {
        case dryRun = "dry_run"
        case hosts
    }
}
