import AltoModels
import Foundation

/// What a job tells the agent about each of its files (path, modification time, hash), kept for every file a
/// plan's rules matched as the inventory read returned it, so the planner writes and sends its jobs without reading
/// those files back. Paths share one buffer: a `String` each would cost twice the memory on a host of millions of
/// matches.
public struct PlanFileDetails: Sendable {
    private var pathBytes: [UInt8] = []
    private var pathEnds: [Int] = []
    private var modified: [Date] = []
    private var hashes: [String?] = []

    public init() {}

    public var count: Int { pathEnds.count }

    /// Keeps one file's details and returns the number that ``PlanCandidate/detail`` holds for it.
    public mutating func append(path: String, lastModified: Date, hash: String?) -> Int32 {
        precondition(count < Int(Int32.max), "a plan keeps at most 2^31 matched files")
        var path = path
        path.withUTF8 { pathBytes.append(contentsOf: $0) }
        pathEnds.append(pathBytes.count)
        modified.append(lastModified)
        hashes.append(hash)
        return Int32(count - 1)
    }

    public func path(_ detail: Int32) -> String {
        let index = Int(detail)
        let start = index == 0 ? 0 : pathEnds[index - 1]
        return String(decoding: pathBytes[start..<pathEnds[index]], as: UTF8.self)
    }

    /// The candidate as a job's file.
    public func file(_ candidate: PlanCandidate) -> TieringJob.File {
        let index = Int(candidate.detail)
        return TieringJob.File(fileID: candidate.fileID, filePath: path(candidate.detail), fileSize: candidate.size,
                               lastModified: modified[index], hash: hashes[index])
    }
}
