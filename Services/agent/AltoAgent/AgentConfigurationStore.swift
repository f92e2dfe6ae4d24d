import AltoModels
import Foundation

/// Keeps the newest configuration the central suite pushed, in `ALTO_AGENT_STATE_DIR`, so it survives restarts.
struct AgentConfigurationStore: Sendable {
    let folder: String
    var file: String { folder + "/configuration.json" }

    /// The stored configuration, or nil before the first one arrived.
    func load() throws -> AgentConfiguration? {
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        return try AltoJSON.decoder().decode(AgentConfiguration.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
    }

    /// Stores `configuration` unless a newer revision is already stored; true when it was stored.
    func save(_ configuration: AgentConfiguration) throws -> Bool {
        if let current = try load(), current.revision >= configuration.revision { return false }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try AltoJSON.encoder().encode(configuration).write(to: URL(fileURLWithPath: file), options: .atomic)
        return true
    }
}
