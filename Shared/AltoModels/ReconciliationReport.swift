import Foundation

/// What an agent reports of a reconciliation run, a page of rows at a time
/// (`POST /api/v1/agent/reconciliations/{run_id}/rows`), then its totals (`…/complete`).
public struct ReconciliationReport: Codable, Sendable, Equatable {
    /// The most rows one page may carry.
    public static let maximumRows = 5000

    public struct Row: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable {
            /// An object the listing found on the target.
            case object
            /// A stub of the host's that the registry knows and that is gone or differs.
            case stub
            /// A copy no registry row names, as its description tells it: outcome `active` (its stub names it),
            /// `deleted` (no stub does) or `refused` (the description cannot be trusted, with the reason).
            case described
        }

        /// The registry row a copy's description gives, checked by the agent that reports it.
        public struct RegistryEntry: Codable, Sendable, Equatable {
            public var fileID: Int64
            public var hash: String
            public var size: Int64
            public var storedBytes: Int64
            public var wrappedKey: String?
            public var tieredAt: Date
            public var handle: String?

            public init(fileID: Int64, hash: String, size: Int64, storedBytes: Int64, wrappedKey: String?, tieredAt: Date,
                        handle: String?) {
                self.fileID = fileID
                self.hash = hash
                self.size = size
                self.storedBytes = storedBytes
                self.wrappedKey = wrappedKey
                self.tieredAt = tieredAt
                self.handle = handle
            }

            enum CodingKeys: String, CodingKey {
                case hash, size, handle
                case fileID = "file_id"
                case storedBytes = "stored_bytes"
                case wrappedKey = "wrapped_key"
                case tieredAt = "tiered_at"
            }
        }

        public var kind: Kind
        /// An object's location as the registry keeps it; a stub's copy's location.
        public var location: String
        /// An object's name below the target's root; a stub's path on the host (a described copy's, as described).
        public var key: String
        public var size: Int64?
        public var modifiedAt: Date?
        /// An object's copy read back: `ok` or `damaged`; nil when it was not read. A stub: `missing` or `differs`;
        /// `moved` (to `movedTo`); of a purge, `purged` or `kept` (with the reason in `detail`); of a copy made again,
        /// `remade` (from the copy in `detail`) or `kept`.
        public var outcome: String?
        public var detail: String?
        /// Where a moved stub is now, in the inventory's encoding.
        public var movedTo: String?
        /// The registry row a described copy gives.
        public var entry: RegistryEntry?

        public init(kind: Kind, location: String, key: String, size: Int64? = nil, modifiedAt: Date? = nil, outcome: String? = nil,
                    detail: String? = nil, movedTo: String? = nil) {
            self.kind = kind
            self.location = location
            self.key = key
            self.size = size
            self.modifiedAt = modifiedAt
            self.outcome = outcome
            self.detail = detail
            self.movedTo = movedTo
        }

        enum CodingKeys: String, CodingKey {
            case kind, location, key, size, outcome, detail
            case modifiedAt = "modified_at"
            case movedTo = "moved_to"
            case entry
        }
    }

    public var rows: [Row]

    public init(rows: [Row]) {
        self.rows = rows
    }

    /// A run's totals, which also end it; `error` says why an agent could not list the target at all.
    public struct Completion: Codable, Sendable, Equatable {
        public var objectsListed: Int64
        public var copiesVerified: Int64
        public var stubsChecked: Int64
        public var error: String?

        public init(objectsListed: Int64, copiesVerified: Int64, stubsChecked: Int64, error: String? = nil) {
            self.objectsListed = objectsListed
            self.copiesVerified = copiesVerified
            self.stubsChecked = stubsChecked
            self.error = error
        }

        enum CodingKeys: String, CodingKey {
            case error
            case objectsListed = "objects_listed"
            case copiesVerified = "copies_verified"
            case stubsChecked = "stubs_checked"
        }
    }

    /// A page of the host's registered stubs on a target (`GET /api/v1/agent/stubs`), in path order.
    public struct StubPage: Codable, Sendable, Equatable {
        public struct Stub: Codable, Sendable, Equatable {
            public var filePath: String
            public var location: String
            public var hash: String
            /// The stub's `StubHandle`, nil for a stub made before handles were kept.
            public var handle: String?

            public init(filePath: String, location: String, hash: String, handle: String? = nil) {
                self.filePath = filePath
                self.location = location
                self.hash = hash
                self.handle = handle
            }

            enum CodingKeys: String, CodingKey {
                case hash, location, handle
                case filePath = "file_path"
            }
        }

        public var stubs: [Stub]
        /// The path to ask for the next page after; nil on the last page.
        public var next: String?

        public init(stubs: [Stub], next: String?) {
            self.stubs = stubs
            self.next = next
        }
    }
}
