import AltoModels
import AltoPlanning
import Foundation
import PostgresNIO
import Testing

@Suite struct PlanFileDetailsTests {
    /// Files 1…n, every third without a hash, one of them with a path of many bytes and characters.
    func details(_ count: Int) -> (PlanFileDetails, [PlanCandidate]) {
        var details = PlanFileDetails()
        let candidates = (1...count).map { index in
            let path = index == 2 ? "/srv/Grüße/\(String(repeating: "ü", count: 300))/\(index)" : "/srv/share/f\(index)"
            let hash = index % 3 == 0 ? nil : ByteBuffer(string: "hash-\(index)")
            let detail = details.append(path: path, lastModified: Date(timeIntervalSince1970: Double(index)), hash: hash)
            return PlanCandidate(fileID: Int64(index), size: Int64(index), lastUsed: Double(index), detail: detail)
        }
        return (details, candidates)
    }

    @Test func aJobsFileIsThePathTimeAndHashKeptForIt() {
        let (details, candidates) = details(10)
        for candidate in candidates {
            let file = details.file(candidate)
            #expect(file.fileID == candidate.fileID && file.fileSize == candidate.size)
            #expect(file.filePath == (candidate.fileID == 2 ? "/srv/Grüße/\(String(repeating: "ü", count: 300))/2" : "/srv/share/f\(candidate.fileID)"))
            #expect(file.lastModified == Date(timeIntervalSince1970: Double(candidate.fileID)))
            #expect(file.hash == (candidate.fileID % 3 == 0 ? nil : "hash-\(candidate.fileID)"))
        }
    }

    @Test func keepingTheTakenFilesRenumbersThemAndKeepsWhatTheyCarry() {
        let (details, candidates) = details(12)
        let before = candidates.map(details.file)
        var taken = [[candidates[11], candidates[2]], [], [candidates[5], candidates[0], candidates[1]]]
        let kept = details.keeping(&taken)
        #expect(kept.count == 5)
        #expect(taken.flatMap { $0.map(\.detail) } == [0, 1, 2, 3, 4])
        #expect(taken.flatMap { $0.map(kept.file) } == [before[11], before[2], before[5], before[0], before[1]])
    }
}
