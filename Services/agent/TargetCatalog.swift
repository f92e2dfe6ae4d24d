import AltoModels
import AltoTiering
import Foundation
import Synchronization

/// The storage targets this agent's jobs named, kept in `ALTO_AGENT_STATE_DIR`, so a stub can be recalled from
/// the target it names even after a restart and with the central suite out of reach.
final class TargetCatalog: TierStoreProvider {
    private let file: String
    private let targets: Mutex<[UUID: StorageTargetReference]>

    init(folder: String) {
        file = folder + "/targets.json"
        let saved = (try? Data(contentsOf: URL(fileURLWithPath: file)))
            .flatMap { try? AltoJSON.decoder().decode([StorageTargetReference].self, from: $0) } ?? []
        targets = Mutex(Dictionary(saved.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last }))
    }

    /// Remembers a job's target (it may have changed since), writing the catalog only when it did.
    func remember(_ target: StorageTargetReference) throws {
        let snapshot = targets.withLock { targets -> [StorageTargetReference]? in
            guard targets[target.id] != target else { return nil }
            targets[target.id] = target
            return Array(targets.values)
        }
        guard let snapshot else { return }
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try AltoJSON.encoder().encode(snapshot).write(to: URL(fileURLWithPath: file), options: .atomic)
    }

    func store(for target: StorageTargetReference) throws(TieringError) -> any TierStore {
        switch target.kind {
        case .filesystem:
            return FilesystemStore(root: target.location)
        case .s3:
            return try S3Store(target: target)
        case .azureBlob:
            return try AzureBlobStore(target: target)
        case .smb:
            return try SMBStore(target: target)
        }
    }

    /// A stub's store: the target it names, or, for a copy on a folder whose target this agent never saw, that
    /// copy's own folder.
    func store(for record: StubRecord) throws(TieringError) -> any TierStore {
        if let id = record.targetID, let target = targets.withLock({ $0[id] }) {
            return try store(for: target)
        }
        guard record.location.hasPrefix("/") else {
            throw TieringError(.rejected, "the stub names target \(record.targetID?.uuidString ?? "none"), unknown to this agent")
        }
        return FilesystemStore(root: (record.location as NSString).deletingLastPathComponent)
    }
}
