import AltoModels

/// Chooses, from what each rule matched, the files a plan takes: rules in priority order; within a rule its candidate
/// order (coldest or largest first); stopping at the rule's caps, at the run's caps, and for a watermark rule at the
/// low watermark of each volume. A file a rule matched but did not take waits for the next run; first match wins,
/// so no later rule takes it instead.
public struct PlanSelection: Sendable {
    /// Caps that hold for the whole run, across rules.
    public struct RunCaps: Sendable, Equatable {
        public var maxFiles: Int?
        public var maxBytes: Int64?

        public init(maxFiles: Int? = nil, maxBytes: Int64? = nil) {
            self.maxFiles = maxFiles
            self.maxBytes = maxBytes
        }
    }

    /// What one rule takes.
    public struct Taken: Sendable, Equatable {
        public var candidates: [PlanCandidate] = []
        public var bytes: Int64 = 0
        /// Matched files left for a later run by a cap or a watermark.
        public var deferred: Int = 0
    }

    /// - Parameters:
    ///   - rules: the evaluator's rules, in its order; `matched[i]` holds what rule `i` matched.
    ///   - volumes: the volumes above a watermark, as `PlanCandidate.volume` numbers them.
    public static func select(rules: [TieringRule], matched: [[PlanCandidate]], volumes: [ManagedVolume],
                              caps: RunCaps = RunCaps()) -> [Taken] {
        var filesLeft = caps.maxFiles ?? .max
        var bytesLeft = caps.maxBytes ?? .max
        var freed = [Int64](repeating: 0, count: volumes.count)
        var result: [Taken] = []
        for (index, rule) in rules.enumerated() {
            var taken = Taken()
            var candidates = index < matched.count ? matched[index] : []
            switch rule.candidateOrder {
            case .coldest:
                candidates.sort { ($0.lastUsed, $0.fileID) < ($1.lastUsed, $1.fileID) }
            case .largest:
                candidates.sort { ($1.size, $0.fileID) < ($0.size, $1.fileID) }
            }
            var ruleFilesLeft = rule.maxFilesPerRun ?? .max
            var ruleBytesLeft = rule.maxBytesPerRun ?? .max
            for candidate in candidates {
                if let watermark = rule.watermark {
                    guard candidate.volume >= 0 else { taken.deferred += 1; continue }
                    let volume = volumes[Int(candidate.volume)]
                    guard freed[Int(candidate.volume)] < volume.bytesAbove(percent: watermark.lowPercent) else {
                        taken.deferred += 1
                        continue
                    }
                }
                guard filesLeft > 0, ruleFilesLeft > 0, candidate.size <= bytesLeft, candidate.size <= ruleBytesLeft else {
                    taken.deferred += 1
                    continue
                }
                filesLeft -= 1
                ruleFilesLeft -= 1
                bytesLeft -= candidate.size
                ruleBytesLeft -= candidate.size
                if candidate.volume >= 0 { freed[Int(candidate.volume)] += candidate.size }
                taken.candidates.append(candidate)
                taken.bytes += candidate.size
            }
            result.append(taken)
        }
        return result
    }
}
