import Foundation

/// What an agent tells the API every minute or so (`POST /api/v1/hosts/{host_id}/heartbeat`): that it is alive,
/// and how full each managed volume is, which is what watermark rules act on.
public struct AgentHeartbeat: Codable, Sendable, Equatable {
    public var sentAt: Date
    public var agentVersion: String
    public var volumes: [ManagedVolume]

    public init(sentAt: Date = Date(), agentVersion: String, volumes: [ManagedVolume]) {
        self.sentAt = sentAt
        self.agentVersion = agentVersion
        self.volumes = volumes
    }

    enum CodingKeys: String, CodingKey {
        case sentAt = "sent_at"
        case agentVersion = "agent_version"
        case volumes
    }

    /// The volumes of `current` that went above a watermark rule's high watermark since `previous` (a volume first
    /// reported counts as having been below), each with the rule: a plan is due for these. A volume that stays above
    /// triggers nothing more; the scheduled plans carry on with it.
    public static func crossings(previous: [ManagedVolume], current: [ManagedVolume], rules: [TieringRule])
        -> [(rule: TieringRule, volume: ManagedVolume)] {
        var crossings: [(rule: TieringRule, volume: ManagedVolume)] = []
        for rule in rules where rule.enabled {
            guard let high = rule.watermark?.highPercent else { continue }
            for volume in current where volume.usedPercent > high {
                let before = previous.first { $0.mountPoint == volume.mountPoint }
                if before.map({ $0.usedPercent <= high }) ?? true { crossings.append((rule, volume)) }
            }
        }
        return crossings
    }

    /// Why a heartbeat cannot be taken, naming the field.
    public func validate() throws(RuleProblem) {
        var seen = Set<String>()
        for (index, volume) in volumes.enumerated() {
            let field = "volumes[\(index)]"
            if volume.mountPoint.isEmpty { throw RuleProblem(field: field + ".mount_point", message: "must not be empty") }
            if !seen.insert(volume.mountPoint).inserted {
                throw RuleProblem(field: field + ".mount_point", message: "\(volume.mountPoint) is reported twice")
            }
            if volume.totalBytes < 0 { throw RuleProblem(field: field + ".total_bytes", message: "must be 0 or more") }
            if volume.usedBytes < 0 || volume.usedBytes > volume.totalBytes {
                throw RuleProblem(field: field + ".used_bytes", message: "must be between 0 and total_bytes")
            }
        }
    }
}
