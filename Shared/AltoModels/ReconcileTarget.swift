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
    }

    public var runID: UUID
    public var target: StorageTargetReference
    public var scope: Scope
    /// The share of copies to read back and verify against their descriptions, from 0 to 1 (every copy).
    public var verifyFraction: Double
    /// Whether the agent checks its host's stubs on this target against the registry.
    public var checkStubs: Bool
    /// Copies the sanitizer decided to delete (orphans past their grace, copies of deleted files past retention),
    /// each with its description; deleted before the listing, so the listing shows they are gone.
    public var deletions: [String]

    public init(runID: UUID, target: StorageTargetReference, scope: Scope, verifyFraction: Double, checkStubs: Bool,
                deletions: [String] = []) {
        self.runID = runID
        self.target = target
        self.scope = scope
        self.verifyFraction = verifyFraction
        self.checkStubs = checkStubs
        self.deletions = deletions
    }

    enum CodingKeys: String, CodingKey {
        case target, scope, deletions
        case runID = "run_id"
        case verifyFraction = "verify_fraction"
        case checkStubs = "check_stubs"
    }
}
