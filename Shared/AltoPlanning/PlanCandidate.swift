/// A file a rule matched, in the few bytes selection needs, so a plan of millions of matches stays small; paths are
/// read back from the inventory only for the files that make it into jobs.
public struct PlanCandidate: Sendable, Equatable {
    public var fileID: Int64
    public var size: Int64
    /// Seconds since 1970 of the later of last access and last modification: smaller is colder.
    public var lastUsed: Double
    /// The index of the file's volume among those above a watermark, or -1.
    public var volume: Int32

    public init(fileID: Int64, size: Int64, lastUsed: Double, volume: Int32 = -1) {
        self.fileID = fileID
        self.size = size
        self.lastUsed = lastUsed
        self.volume = volume
    }
}
