import Foundation

/// The sanitizer asks one agent to list one target and check its stubs (`agent.<customer_id>.<host_id>`). Listings
/// run on the agents because only they reach every target (a folder on the host, a share on its network) and only
/// they open its credentials; the agent reports what it found to the API, and the sanitizer merges it.
public struct ReconcileTarget: EnvelopePayload {
    public static let messageType = "reconcile.target"

    /// What the listing covers.
    public enum Scope: String, Codable, Sendable {
        /// This host's copies only: a folder may be local to each host, so each lists its own.
        case host
        /// The tenant's whole prefix: a share or bucket every host reaches alike, listed by one of them.
        case tenant
        /// No listing: on a share or bucket that another host lists for the tenant, this host checks its own stubs
        /// and carries out its own purges and deletions, which only the host that made a stub can judge.
        case stubs
    }

    /// The copy of a stub the registry has as deleted for longer than the target's retention, to be purged unless
    /// the agent finds the stub still there: back at its path, or moved, found by its handle.
    public struct Purge: Codable, Sendable, Equatable {
        public var location: String
        /// The stub's path on the host, in the inventory's encoding.
        public var filePath: String
        /// The stub's `StubHandle`, nil for a stub made before handles were kept.
        public var handle: String?

        public init(location: String, filePath: String, handle: String?) {
            self.location = location
            self.filePath = filePath
            self.handle = handle
        }

        enum CodingKeys: String, CodingKey {
            case location, handle
            case filePath = "file_path"
        }
    }

    /// A stub whose copy is missing or damaged, and a copy of the same content (another file's, perhaps on another
    /// target) that the registry has no doubt about.
    public struct Remake: Codable, Sendable, Equatable {
        public var location: String
        /// The stub's path on the host, in the inventory's encoding.
        public var filePath: String
        public var sourceLocation: String
        public var sourceTarget: StorageTargetReference

        public init(location: String, filePath: String, sourceLocation: String, sourceTarget: StorageTargetReference) {
            self.location = location
            self.filePath = filePath
            self.sourceLocation = sourceLocation
            self.sourceTarget = sourceTarget
        }

        enum CodingKeys: String, CodingKey {
            case location
            case filePath = "file_path"
            case sourceLocation = "source_location"
            case sourceTarget = "source_target"
        }
    }

    public var runID: UUID
    public var target: StorageTargetReference
    public var scope: Scope
    /// The share of copies to read back and verify against their descriptions, from 0 to 1 (every copy).
    public var verifyFraction: Double
    /// Whether the agent checks its host's stubs on this target against the registry.
    public var checkStubs: Bool
    /// Orphans the sanitizer decided to delete, each with its description; deleted before the listing, so the
    /// listing shows they are gone.
    public var deletions: [String]
    /// Copies of deleted stubs past the target's retention, purged (with their descriptions) before the listing.
    public var purges: [Purge]
    /// Copies of this host's that no registry row names, with a description beside them: the agent reads each and
    /// reports the registry row it describes, so the registry can be rebuilt from tier-2.
    public var rebuilds: [String]

    /// Stubs of this host's whose copy was found missing or damaged, each with another good copy of the same
    /// content to make it again from.
    public var remakes: [Remake]

    public init(runID: UUID, target: StorageTargetReference, scope: Scope, verifyFraction: Double, checkStubs: Bool,
                deletions: [String] = [], purges: [Purge] = [], rebuilds: [String] = [], remakes: [Remake] = []) {
        self.runID = runID
        self.target = target
        self.scope = scope
        self.verifyFraction = verifyFraction
        self.checkStubs = checkStubs
        self.deletions = deletions
        self.purges = purges
        self.rebuilds = rebuilds
        self.remakes = remakes
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        runID = try container.decode(UUID.self, forKey: .runID)
        target = try container.decode(StorageTargetReference.self, forKey: .target)
        scope = try container.decode(Scope.self, forKey: .scope)
        verifyFraction = try container.decode(Double.self, forKey: .verifyFraction)
        checkStubs = try container.decode(Bool.self, forKey: .checkStubs)
        deletions = try container.decodeIfPresent([String].self, forKey: .deletions) ?? []
        purges = try container.decodeIfPresent([Purge].self, forKey: .purges) ?? []
        rebuilds = try container.decodeIfPresent([String].self, forKey: .rebuilds) ?? []
        remakes = try container.decodeIfPresent([Remake].self, forKey: .remakes) ?? []
    }

    enum CodingKeys: String, CodingKey {
        case target, scope, deletions, purges, rebuilds, remakes
        case runID = "run_id"
        case verifyFraction = "verify_fraction"
        case checkStubs = "check_stubs"
    }
}
