import AltoModels
import AltoTiering

extension AgentResult.File {
    /// How a recall is reported, whoever asked for it: the stub's copy when it was recalled, the reason when not.
    static func recall(of path: String, fileID: Int64?, _ outcome: Result<StubRecord, TieringError>) -> AgentResult.File {
        switch outcome {
        case .success(let record):
            AgentResult.File(fileID: fileID, filePath: path, outcome: .recalled, hash: record.hash, size: record.size,
                             tieredLocation: record.location)
        case .failure(let error):
            AgentResult.File(fileID: fileID, filePath: path, outcome: .failed, reason: error.message, size: 0)
        }
    }
}
