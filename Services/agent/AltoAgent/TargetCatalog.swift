import AltoKeys
import AltoModels
import AltoTiering
import Crypto
import Foundation
import Synchronization

/// The storage targets this agent's jobs named, kept in `ALTO_AGENT_STATE_DIR`, so a stub can be recalled from
/// the target it names even after a restart and with the central suite out of reach. Their credentials stay
/// encrypted with the tenant's key, on disk as in the job that brought them, and are opened by the tenant's key
/// provider only to build a store.
final class TargetCatalog: TierStoreProvider {
    private let file: String
    private let targets: Mutex<[UUID: StorageTargetReference]>
    /// The tenant's key provider; nil when the agent runs without one (copies and credentials in the clear).
    let keys: (any KeyProvider)?
    let customerID: UUID

    init(folder: String, keys: (any KeyProvider)?, customerID: UUID) {
        self.keys = keys
        self.customerID = customerID
        file = folder + "/targets.json"
        let saved = (try? Data(contentsOf: URL(fileURLWithPath: file)))
            .flatMap { try? AltoJSON.decoder().decode([StorageTargetReference].self, from: $0) } ?? []
        targets = Mutex(Dictionary(saved.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last }))
    }

    /// Remembers a job's target (it may have changed since), writing the catalog only when it did. The file is
    /// written while the catalog is held, so two jobs that bring two targets at once cannot write their snapshots in
    /// the wrong order and lose one of them.
    func remember(_ target: StorageTargetReference) throws {
        try targets.withLock { targets in
            guard targets[target.id] != target else { return }
            var updated = targets
            updated[target.id] = target
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AltoJSON.encoder().encode(Array(updated.values)).write(to: URL(fileURLWithPath: file), options: .atomic)
            targets = updated
        }
    }

    /// The target with this id, as the last job naming it brought it.
    func target(_ id: UUID) -> StorageTargetReference? {
        targets.withLock { $0[id] }
    }

    func store(for stored: StorageTargetReference) async throws(TieringError) -> any TierStore {
        guard let kind = StorageKind.named(stored.kind) else {
            throw TieringError(.rejected, "target \(stored.id) is of kind \(stored.kind), which this agent cannot use")
        }
        return try kind.makeStore(for: try await opened(stored))
    }

    /// A stub's store: the target it names, or, for a copy on a folder whose target this agent never saw, that
    /// copy's own folder.
    func store(for record: StubRecord) async throws(TieringError) -> any TierStore {
        if let id = record.targetID, let target = targets.withLock({ $0[id] }) {
            return try await store(for: target)
        }
        guard record.location.hasPrefix("/") else {
            throw TieringError(.rejected, "the stub names target \(record.targetID?.uuidString ?? "none"), unknown to this agent")
        }
        return FilesystemStore(root: (record.location as NSString).deletingLastPathComponent)
    }

    func dataKey(for encryption: StubRecord.Encryption) async throws(TieringError) -> SymmetricKey {
        guard let keys else {
            throw TieringError(.storageUnavailable, "the copy is encrypted by the \(encryption.provider) key provider and this agent has none")
        }
        do {
            return try await keys.unwrapDataKey(encryption.wrappedKey, tenant: customerID)
        } catch {
            throw Self.tieringError(error)
        }
    }

    /// A fresh data key for a job's copies, with what their stubs record of it.
    func sealing() async throws(TieringError) -> FileTierer.Sealing? {
        guard let keys else { return nil }
        do {
            let dataKey = try await keys.generateDataKey(tenant: customerID)
            return FileTierer.Sealing(key: dataKey.key, encryption: StubRecord.Encryption(provider: keys.name, wrappedKey: dataKey.wrapped))
        } catch {
            throw Self.tieringError(error)
        }
    }

    /// The target with its credentials decrypted, for building a store; credentials stored before they were
    /// encrypted are used as they are.
    private func opened(_ target: StorageTargetReference) async throws(TieringError) -> StorageTargetReference {
        guard let secrets = target.secrets, secrets.values.contains(where: { LocalKeyProvider.isWrapped($0) }) else { return target }
        guard let keys else {
            throw TieringError(.storageUnavailable, "the credentials of target \(target.id) are encrypted and this agent has no key provider")
        }
        var opened = target
        do {
            for (name, value) in secrets where LocalKeyProvider.isWrapped(value) {
                opened.secrets?[name] = String(decoding: try await keys.decrypt(value, tenant: customerID), as: UTF8.self)
            }
        } catch {
            throw Self.tieringError(error)
        }
        return opened
    }

    /// A key provider out of reach makes the tier unavailable (the job waits and is retried); a key that does not
    /// open what it should means the copy or credential cannot be read.
    static func tieringError(_ error: any Error) -> TieringError {
        guard let keyError = error as? KeyError else { return TieringError(.storageUnavailable, "key provider: \(error)") }
        switch keyError.code {
        case .unavailable: return TieringError(.storageUnavailable, "key provider: \(keyError.message)")
        case .refused, .invalidCiphertext: return TieringError(.hashMismatch, "key provider: \(keyError.message)")
        }
    }
}
