/// A file a rule matched, in the few bytes selection needs, so a plan of millions of matches stays small; what a
/// job needs besides is in ``PlanFileDetails``, when the plan keeps it.
public struct PlanCandidate: Sendable, Equatable {
    public var fileID: Int64
    public var size: Int64
    /// Seconds since 1970 of the later of last access and last modification: smaller is colder.
    public var lastUsed: Double
    /// The index of the file's volume among those above a watermark, or -1.
    public var volume: Int32
    /// The file's number in the plan's ``PlanFileDetails``, or -1 when the plan keeps none.
    public var detail: Int32

    public init(fileID: Int64, size: Int64, lastUsed: Double, volume: Int32 = -1, detail: Int32 = -1) {
        self.fileID = fileID
        self.size = size
        self.lastUsed = lastUsed
        self.volume = volume
        self.detail = detail
    }
}
