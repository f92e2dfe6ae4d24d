import Foundation

/// What the stub guard asks the agent: recall the stub behind the descriptor passed with this message.
struct GuardRequest: Codable, Sendable {
    var id: UInt64
    var pid: Int32
    var path: String
}

/// The agent's answer: 0 lets the reader go on (the file is whole again), an errno fails its read.
struct GuardResponse: Codable, Sendable {
    var id: UInt64
    var error: Int32
}
