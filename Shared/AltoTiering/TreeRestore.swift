import AltoModels
import CAltoLinux
import Crypto
import Foundation
import Glibc

/// Rebuilds a tenant's files under a folder from a target's copies alone: each copy's description says where the
/// file was and what it was, the tenant's key unwraps its data key, and the file comes back byte for byte with its
/// times, permissions and owner. For the day the database and the stubs are gone.
///
/// Every file is written under a temporary name, checked against its description's size and hash, and only then
/// renamed into place, so a restore that stops leaves whole files or none. A sealed copy's description must
/// authenticate under its data key. A description in the clear cannot be checked (anyone who writes to tier-2 could
/// have written it), so its copy is restored only when asked to trust such descriptions, and then without the
/// owner, set-user-ID, set-group-ID and sticky bits it asks for. Where a target holds several copies of one path (a
/// file tiered, recalled and tiered again) the newest wins; a file already there that no restore wrote is left.
public struct TreeRestore: Sendable {
    /// Which copies to restore.
    public struct Selection: Sendable {
        public var customerID: UUID
        /// Only this host's files; nil for every host's.
        public var hostID: UUID?
        /// Only files at or below this path on their host; nil for all.
        public var pathPrefix: String?

        public init(customerID: UUID, hostID: UUID? = nil, pathPrefix: String? = nil) {
            self.customerID = customerID
            self.hostID = hostID
            self.pathPrefix = pathPrefix
        }

        func includes(_ description: CopyDescription) -> Bool {
            if let hostID, description.hostID != hostID { return false }
            guard let pathPrefix else { return true }
            let prefix = PathEncoding.encode(Array(pathPrefix.utf8))
            let folder = prefix.hasSuffix("/") ? prefix : prefix + "/"
            return description.originalPath == prefix || description.originalPath.hasPrefix(folder)
        }
    }

    /// What one copy came to.
    public enum Outcome: Sendable, Equatable {
        case restored(path: String, bytes: Int64)
        /// Left alone: a newer copy of the path was restored, or a file no restore wrote is there.
        case skipped(path: String, reason: String)
        case failed(location: String, reason: String)
    }

    /// The extended attribute a restored file carries: when the copy it came from was made, so that of several
    /// copies of one path the newest wins, whatever order the listing gives them in.
    static let restoredAttribute = "user.alto.restored_from"

    let store: any TierStore
    let destination: String
    let selection: Selection
    let dataKey: @Sendable (StubRecord.Encryption) async throws(TieringError) -> SymmetricKey
    let parallel: Int
    let trustsUnsealed: Bool

    /// - Parameters:
    ///   - trustsUnsealed: restore copies whose descriptions are in the clear (a target written without a key
    ///     provider), which nothing can check.
    ///   - dataKey: unwraps a copy's data key with the tenant's key.
    public init(store: any TierStore, destination: String, selection: Selection, parallel: Int = 4, trustsUnsealed: Bool = false,
                dataKey: @escaping @Sendable (StubRecord.Encryption) async throws(TieringError) -> SymmetricKey) {
        self.store = store
        self.destination = destination
        self.selection = selection
        self.parallel = max(1, parallel)
        self.trustsUnsealed = trustsUnsealed
        self.dataKey = dataKey
    }

    /// Restores every selected copy the target holds, handing each outcome to `report` as it comes.
    public func run(report: @escaping @Sendable (Outcome) -> Void) async throws(TieringError) {
        var info = stat()
        guard stat(destination, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw TieringError(.rejected, "the folder to restore into, \(destination), does not exist")
        }
        let tenant = selection.customerID.uuidString.lowercased()
        try await store.list(prefix: tenant + "/") { page throws(TieringError) in
            let copies = page.compactMap { entry in CopyDescription.copyLocation(describedAt: entry.location).map { (entry.key, $0) } }
            await withTaskGroup(of: Outcome?.self) { group in
                var running = 0
                for (key, location) in copies {
                    if running == parallel, let outcome = await group.next() {
                        running -= 1
                        if let outcome { report(outcome) }
                    }
                    running += 1
                    group.addTask { await restore(location, describedAt: key) }
                }
                for await outcome in group {
                    if let outcome { report(outcome) }
                }
            }
        }
    }

    /// Restores one copy; nil when the selection leaves it out.
    private func restore(_ location: String, describedAt name: String) async -> Outcome? {
        do throws(TieringError) {
            guard let description = try await store.copyDescription(of: location) else { return nil }
            try Self.check(description, describedAt: name, tenant: selection.customerID)
            guard selection.includes(description) else { return nil }
            var mode = description.mode & 0o7777
            let key = try await description.openingKey(dataKey)
            if key == nil {
                guard trustsUnsealed else {
                    throw TieringError(.untrustedRecord, "its description is in the clear, so nothing vouches for its path, owner or "
                                       + "permissions; restoring such copies must be asked for")
                }
                mode &= 0o777
            }
            return try await write(description, from: location, mode: mode, key: key)
        } catch {
            return .failed(location: location, reason: error.message)
        }
    }

    /// A description must be the one its name says: the tenant, host and file its key names.
    public static func check(_ description: CopyDescription, describedAt key: String, tenant: UUID) throws(TieringError) {
        guard description.customerID == tenant, key.hasPrefix(tenant.uuidString.lowercased() + "/"),
              TierObject.host(inKey: key) == description.hostID.uuidString.lowercased()[...],
              key.split(separator: "/").last?.hasPrefix("\(description.fileID)-") == true else {
            throw TieringError(.untrustedRecord, "its description names another tenant, host or file than its place on the target")
        }
    }

    private func write(_ description: CopyDescription, from location: String, mode: UInt32,
                       key: SymmetricKey?) async throws(TieringError) -> Outcome {
        let path = String(decoding: PathEncoding.decode(description.originalPath), as: UTF8.self)
        let place = try RestorePlace(destination: destination, originalPath: PathEncoding.decode(description.originalPath))
        let tieredAt = RFC3339.format(description.tieredAt)
        if let reason = place.reasonToSkip(restoring: tieredAt) { return .skipped(path: path, reason: reason) }
        let file = try place.temporary()
        do throws(TieringError) {
            try await store.read(location, against: description, key: key, into: file)
            if let reason = try place.finish(file, description: description, mode: mode, owner: key != nil, restoredFrom: tieredAt) {
                place.discard(file)
                return .skipped(path: path, reason: reason)
            }
        } catch {
            place.discard(file)
            throw error
        }
        return .restored(path: path, bytes: description.size)
    }
}
