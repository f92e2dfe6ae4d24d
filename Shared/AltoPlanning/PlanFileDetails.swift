import AltoModels
import Foundation
import PostgresNIO

/// What a job tells the agent about each of its files (path, modification time, hash), kept for every file a
/// plan's rules matched as the inventory read returned it, so the planner writes and sends its jobs without reading
/// those files back. Paths and hashes share two buffers: a `String` each would cost twice the memory on a host of
/// millions of matches.
public struct PlanFileDetails: Sendable {
    private var pathBytes: [UInt8] = []
    private var pathEnds: [Int] = []
    private var modified: [Date] = []
    private var hashBytes: [UInt8] = []
    /// Where each file's hash ends in `hashBytes`; for a file without one, where the one before ends, negated less one.
    private var hashEnds: [Int] = []

    public init() {}

    public var count: Int { pathEnds.count }

    /// Keeps one file's details and returns the number that ``PlanCandidate/detail`` holds for it.
    public mutating func append(path: String, lastModified: Date, hash: ByteBuffer?) -> Int32 {
        append(pathBytes: path.utf8, lastModified: lastModified, hashBytes: hash?.readableBytesView)
    }

    public func path(_ detail: Int32) -> String {
        String(decoding: pathBytes[pathRange(Int(detail))], as: UTF8.self)
    }

    public func hash(_ detail: Int32) -> String? {
        hashRange(Int(detail)).map { String(decoding: hashBytes[$0], as: UTF8.self) }
    }

    /// The candidate as a job's file.
    public func file(_ candidate: PlanCandidate) -> TieringJob.File {
        TieringJob.File(fileID: candidate.fileID, filePath: path(candidate.detail), fileSize: candidate.size,
                        lastModified: modified[Int(candidate.detail)], hash: hash(candidate.detail))
    }

    /// The details of `candidates` alone, renumbered in their order: what a plan keeps once its caps have left most
    /// of what its rules matched for later.
    public func keeping(_ candidates: inout [[PlanCandidate]]) -> PlanFileDetails {
        var kept = PlanFileDetails()
        for rule in candidates.indices {
            for index in candidates[rule].indices where candidates[rule][index].detail >= 0 {
                let detail = Int(candidates[rule][index].detail)
                candidates[rule][index].detail = kept.append(pathBytes: pathBytes[pathRange(detail)], lastModified: modified[detail],
                                                             hashBytes: hashRange(detail).map { hashBytes[$0] })
            }
        }
        return kept
    }

    private mutating func append(pathBytes path: some Sequence<UInt8>, lastModified: Date,
                                 hashBytes hash: (some Sequence<UInt8>)?) -> Int32 {
        precondition(count < Int(Int32.max), "a plan keeps at most 2^31 matched files")
        pathBytes.append(contentsOf: path)
        pathEnds.append(pathBytes.count)
        modified.append(lastModified)
        if let hash {
            hashBytes.append(contentsOf: hash)
            hashEnds.append(hashBytes.count)
        } else {
            hashEnds.append(-hashBytes.count - 1)
        }
        return Int32(count - 1)
    }

    private func pathRange(_ index: Int) -> Range<Int> {
        (index == 0 ? 0 : pathEnds[index - 1])..<pathEnds[index]
    }

    private func hashRange(_ index: Int) -> Range<Int>? {
        guard hashEnds[index] >= 0 else { return nil }
        let before = index == 0 ? 0 : hashEnds[index - 1]
        return (before >= 0 ? before : -before - 1)..<hashEnds[index]
    }
}
