import AltoModels
import Crypto

/// Finds the store that holds a stub's copy, from the target it names, and the data key that opens an encrypted
/// copy; the agent keeps the targets its jobs brought and asks its tenant's key provider for the keys.
public protocol TierStoreProvider: Sendable {
    func store(for record: StubRecord) async throws(TieringError) -> any TierStore

    /// The data key of an encrypted copy, unwrapped by the tenant's key provider.
    func dataKey(for encryption: StubRecord.Encryption) async throws(TieringError) -> SymmetricKey
}

extension TierStoreProvider {
    public func dataKey(for encryption: StubRecord.Encryption) async throws(TieringError) -> SymmetricKey {
        throw TieringError(.storageUnavailable, "the copy is encrypted by the \(encryption.provider) key provider and none is configured")
    }
}
