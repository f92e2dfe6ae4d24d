import Foundation

/// A tenant's rule: which files go to which tier-2 target. Criteria left out do not restrict.
public struct TieringRule: Codable, Sendable, Equatable {
    /// Which matched files a rule takes first when a cap or a watermark stops it before it has taken them all.
    public enum CandidateOrder: String, Codable, Sendable, CaseIterable {
        /// The file least recently used (the later of its last access and last modification) first.
        case coldest
        /// The biggest file first: the most space for the fewest transfers.
        case largest
    }

    public var id: UUID
    public var name: String
    /// Lower numbers are evaluated first; the first rule that matches a file wins. Unique within a tenant, so the
    /// order of evaluation never depends on anything but what the admin wrote.
    public var priority: Int
    public var enabled: Bool
    /// Globs (see ``GlobPattern``); a file matches when any of them, or the regular expression, does.
    public var pathGlobs: [String]
    /// A regular expression the whole path must match.
    public var pathRegex: String?
    /// Whether paths compare case-sensitively; nil follows the path: Windows paths (`C:\…`, `\\server\…`) compare
    /// case-insensitively, POSIX paths case-sensitively.
    public var caseSensitive: Bool?
    /// Days since last modification the file must exceed.
    public var minDaysSinceModified: Int?
    /// Days since last access the file must exceed; a file with no recorded access counts as never accessed.
    public var minDaysSinceAccessed: Int?
    public var minSize: Int64?
    public var maxSize: Int64?
    /// Extensions without a dot, compared in lower case; an empty list allows every extension.
    public var includeExtensions: [String]
    public var excludeExtensions: [String]
    public var targetID: UUID
    public var candidateOrder: CandidateOrder
    /// At most this many files per plan of a host.
    public var maxFilesPerRun: Int?
    /// At most this many bytes per plan of a host.
    public var maxBytesPerRun: Int64?
    /// When set, the rule plans only inside this window.
    public var schedule: ScheduleWindow?
    /// When set, the rule plans only on volumes above the high watermark, and only until the low one is reached.
    public var watermark: Watermark?
    /// Bumped by every change, so a job records which version of the rule planned it.
    public var version: Int

    public init(id: UUID = UUID(), name: String, priority: Int, enabled: Bool = true, pathGlobs: [String] = [],
                pathRegex: String? = nil, caseSensitive: Bool? = nil, minDaysSinceModified: Int? = nil,
                minDaysSinceAccessed: Int? = nil, minSize: Int64? = nil, maxSize: Int64? = nil,
                includeExtensions: [String] = [], excludeExtensions: [String] = [], targetID: UUID,
                candidateOrder: CandidateOrder = .coldest, maxFilesPerRun: Int? = nil, maxBytesPerRun: Int64? = nil,
                schedule: ScheduleWindow? = nil, watermark: Watermark? = nil, version: Int = 1) {
        self.id = id
        self.name = name
        self.priority = priority
        self.enabled = enabled
        self.pathGlobs = pathGlobs
        self.pathRegex = pathRegex
        self.caseSensitive = caseSensitive
        self.minDaysSinceModified = minDaysSinceModified
        self.minDaysSinceAccessed = minDaysSinceAccessed
        self.minSize = minSize
        self.maxSize = maxSize
        self.includeExtensions = includeExtensions
        self.excludeExtensions = excludeExtensions
        self.targetID = targetID
        self.candidateOrder = candidateOrder
        self.maxFilesPerRun = maxFilesPerRun
        self.maxBytesPerRun = maxBytesPerRun
        self.schedule = schedule
        self.watermark = watermark
        self.version = version
    }

    enum CodingKeys: String, CodingKey {
        case id, name, priority, enabled, schedule, watermark, version
        case pathGlobs = "path_globs"
        case pathRegex = "path_regex"
        case caseSensitive = "case_sensitive"
        case minDaysSinceModified = "min_days_since_modified"
        case minDaysSinceAccessed = "min_days_since_accessed"
        case minSize = "min_size"
        case maxSize = "max_size"
        case includeExtensions = "include_extensions"
        case excludeExtensions = "exclude_extensions"
        case targetID = "target_id"
        case candidateOrder = "candidate_order"
        case maxFilesPerRun = "max_files_per_run"
        case maxBytesPerRun = "max_bytes_per_run"
    }
}

extension TieringRule {
    /// Reads a rule as admins write it: only name, priority and target are required, the rest defaults to
    /// "does not restrict", and a missing id gets a new one.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decodeIfPresent(UUID.self, forKey: .id) ?? UUID(),
            name: try container.decode(String.self, forKey: .name),
            priority: try container.decode(Int.self, forKey: .priority),
            enabled: try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? true,
            pathGlobs: try container.decodeIfPresent([String].self, forKey: .pathGlobs) ?? [],
            pathRegex: try container.decodeIfPresent(String.self, forKey: .pathRegex),
            caseSensitive: try container.decodeIfPresent(Bool.self, forKey: .caseSensitive),
            minDaysSinceModified: try container.decodeIfPresent(Int.self, forKey: .minDaysSinceModified),
            minDaysSinceAccessed: try container.decodeIfPresent(Int.self, forKey: .minDaysSinceAccessed),
            minSize: try container.decodeIfPresent(Int64.self, forKey: .minSize),
            maxSize: try container.decodeIfPresent(Int64.self, forKey: .maxSize),
            includeExtensions: try container.decodeIfPresent([String].self, forKey: .includeExtensions) ?? [],
            excludeExtensions: try container.decodeIfPresent([String].self, forKey: .excludeExtensions) ?? [],
            targetID: try container.decode(UUID.self, forKey: .targetID),
            candidateOrder: try container.decodeIfPresent(CandidateOrder.self, forKey: .candidateOrder) ?? .coldest,
            maxFilesPerRun: try container.decodeIfPresent(Int.self, forKey: .maxFilesPerRun),
            maxBytesPerRun: try container.decodeIfPresent(Int64.self, forKey: .maxBytesPerRun),
            schedule: try container.decodeIfPresent(ScheduleWindow.self, forKey: .schedule),
            watermark: try container.decodeIfPresent(Watermark.self, forKey: .watermark),
            version: try container.decodeIfPresent(Int.self, forKey: .version) ?? 1
        )
    }
}
