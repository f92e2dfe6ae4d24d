import AltoModels

/// One kind of tier-2 storage, described once: the form of its location, the settings it reads and which of them
/// are credentials, what it cannot work without, and how to make its store. The API validates targets with it and
/// keeps their credentials apart, and the agent makes its stores with it. A new backend is its store, which carries
/// its `StorageKind` (see `S3Store.kind`), and one line in `all` (docs/ARCHITECTURE.md has the rest).
public struct StorageKind: Sendable {
    public struct Setting: Sendable, Equatable {
        public var name: String
        public var summary: String
        /// A credential: stored encrypted with the tenant's key, never shown again, opened only by the agent.
        public var isSecret: Bool

        public init(_ name: String, _ summary: String, isSecret: Bool = false) {
            self.name = name
            self.summary = summary
            self.isSecret = isSecret
        }
    }

    public let name: StorageTargetReference.Kind
    /// The location as an admin writes it, for messages and the documentation.
    public let locationForm: String
    /// What the kind reads beside its location, the settings every kind reads included.
    public let settings: [Setting]
    /// Settings a target of this kind must have.
    let requiredSettings: [String]
    /// Credentials a target must have: one of each group (Azure takes an account key or a SAS token).
    let requiredCredentials: [[String]]
    /// Says what is wrong with a location, or nil when the kind can use it.
    let locationProblem: @Sendable (String) -> String?
    let make: @Sendable (StorageTargetReference) throws(TieringError) -> any TierStore

    public init(name: StorageTargetReference.Kind, locationForm: String, settings: [Setting], requiredSettings: [String] = [],
                requiredCredentials: [[String]] = [], locationProblem: @escaping @Sendable (String) -> String?,
                make: @escaping @Sendable (StorageTargetReference) throws(TieringError) -> any TierStore) {
        self.name = name
        self.locationForm = locationForm
        self.settings = settings + Self.commonSettings
        self.requiredSettings = requiredSettings
        self.requiredCredentials = requiredCredentials
        self.locationProblem = locationProblem
        self.make = make
    }

    /// Every kind of tier-2 storage Alto can use.
    public static let all: [StorageKind] = [FilesystemStore.kind, SMBStore.kind, S3Store.kind, AzureBlobStore.kind]

    /// Settings every kind reads.
    static let commonSettings = [
        Setting("compression", "zstd to store copies compressed; unset stores them as they are"),
        Setting("orphans", "what reconciliation does with objects no stub refers to: delete (after the grace) or keep"),
        Setting("orphan_grace_hours", "hours an orphan is found before it is deleted (24)"),
        Setting("retention_days", "days the copy of a stub a user deleted is kept before it is purged (30)"),
    ]

    /// What is wrong with the value of a setting every kind reads, or nil.
    static func commonProblem(_ name: String, _ value: String) -> String? {
        switch name {
        case "compression" where !value.isEmpty && value != "zstd": "compression is zstd or unset"
        case "orphans" where !["delete", "keep"].contains(value): "orphans is delete or keep"
        case "orphan_grace_hours", "retention_days":
            Int(value).map { $0 >= 0 } == true ? nil : "\(name) is a whole number, 0 or more"
        default: nil
        }
    }

    public static func named(_ name: StorageTargetReference.Kind) -> StorageKind? {
        all.first { $0.name == name }
    }

    /// The names of the settings that are credentials.
    public var secretNames: Set<String> { Set(settings.filter(\.isSecret).map(\.name)) }

    /// What is wrong with a target of this kind, and which field is at fault; nil when nothing is.
    /// - Parameter storedCredentials: credentials the target already has, which an update need not send again.
    public func problem(location: String, settings given: [String: String], storedCredentials: Set<String> = [])
        -> (field: String, message: String)? {
        if let problem = locationProblem(location) { return ("location", problem) }
        let known = Set(settings.map(\.name))
        if let unknown = given.keys.sorted().first(where: { !known.contains($0) }) {
            return ("settings.\(unknown)", "a target of kind \(name) has no setting \(unknown); it reads \(settings.map(\.name).joined(separator: ", "))")
        }
        for (setting, value) in given.sorted(by: { $0.key < $1.key }) {
            if let problem = Self.commonProblem(setting, value) { return ("settings.\(setting)", problem) }
        }
        for setting in requiredSettings where (given[setting] ?? "").isEmpty {
            return ("settings.\(setting)", "a target of kind \(name) needs \(setting)")
        }
        let credentials = storedCredentials.union(given.filter { !$0.value.isEmpty }.keys)
        for group in requiredCredentials where !group.contains(where: credentials.contains) {
            return ("settings.\(group[0])", "a target of kind \(name) needs " + group.joined(separator: " or "))
        }
        return nil
    }

    /// The store for `target`, whose credentials are open.
    public func makeStore(for target: StorageTargetReference) throws(TieringError) -> any TierStore {
        try make(target)
    }

    /// A location check from a parser that throws what is wrong.
    static func problem(_ parse: @escaping @Sendable (String) throws(TieringError) -> Void) -> @Sendable (String) -> String? {
        { location in
            do throws(TieringError) {
                try parse(location)
                return nil
            } catch {
                return error.message
            }
        }
    }
}
