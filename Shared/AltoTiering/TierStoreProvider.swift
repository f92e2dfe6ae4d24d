import AltoModels

/// Finds the store that holds a stub's copy, from the target it names; the agent keeps the targets its jobs brought.
public protocol TierStoreProvider: Sendable {
    func store(for record: StubRecord) throws(TieringError) -> any TierStore
}
