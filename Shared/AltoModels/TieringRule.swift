import Foundation

/// A tenant's rule: which files go to which tier-2 target. Criteria left out do not restrict.
public struct TieringRule: Codable, Sendable, Equatable {
    public var id: UUID
    public var name: String
    /// Lower numbers are evaluated first; the first rule that matches a file wins.
    public var priority: Int
    public var enabled: Bool
    /// Globs (see ``GlobPattern``); a file matches when any of them does.
    public var pathGlobs: [String]
    /// A regular expression the whole path must match, as an alternative to globs.
    public var pathRegex: String?
    /// Matching is case-sensitive unless this is false (Windows file servers).
    public var caseSensitive: Bool
    /// Days since last modification the file must exceed.
    public var minDaysSinceModified: Int?
    /// Days since last access the file must exceed; a file with no recorded access counts as never accessed.
    public var minDaysSinceAccessed: Int?
    public var minSize: Int64?
    public var maxSize: Int64?
    /// Lower-case extensions without a dot; an empty list allows every extension.
    public var includeExtensions: [String]
    public var excludeExtensions: [String]
    public var targetID: UUID

    public init(id: UUID = UUID(), name: String, priority: Int, enabled: Bool = true, pathGlobs: [String] = [],
                pathRegex: String? = nil, caseSensitive: Bool = true, minDaysSinceModified: Int? = nil,
                minDaysSinceAccessed: Int? = nil, minSize: Int64? = nil, maxSize: Int64? = nil,
                includeExtensions: [String] = [], excludeExtensions: [String] = [], targetID: UUID) {
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
    }

    enum CodingKeys: String, CodingKey {
        case id, name, priority, enabled
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
            caseSensitive: try container.decodeIfPresent(Bool.self, forKey: .caseSensitive) ?? true,
            minDaysSinceModified: try container.decodeIfPresent(Int.self, forKey: .minDaysSinceModified),
            minDaysSinceAccessed: try container.decodeIfPresent(Int.self, forKey: .minDaysSinceAccessed),
            minSize: try container.decodeIfPresent(Int64.self, forKey: .minSize),
            maxSize: try container.decodeIfPresent(Int64.self, forKey: .maxSize),
            includeExtensions: try container.decodeIfPresent([String].self, forKey: .includeExtensions) ?? [],
            excludeExtensions: try container.decodeIfPresent([String].self, forKey: .excludeExtensions) ?? [],
            targetID: try container.decode(UUID.self, forKey: .targetID)
        )
    }
}
