/// What a reconciliation can find, as the `findings` table, the API and the metrics name it.
public enum FindingKind: String, CaseIterable, Codable, Sendable {
    /// A registered stub's copy is not on its target.
    case missingCopy = "missing_copy"
    /// An object no stub refers to.
    case orphan
    /// A copy of another size than was stored.
    case sizeDrift = "size_drift"
    /// A copy that does not read back as its description says.
    case hashDrift = "hash_drift"
    /// A registered stub gone from its host.
    case stubMissing = "stub_missing"
    /// The file at a registered stub's path is no longer that stub.
    case stubDiffers = "stub_differs"
    /// A copy without its description, which tier-2 alone cannot restore.
    case undescribedCopy = "undescribed_copy"
}
