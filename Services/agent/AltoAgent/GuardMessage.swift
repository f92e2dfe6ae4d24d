import Foundation

/// What a process connecting to the stub guard says first: what it is.
struct GuardClientHello: Codable, Sendable {
    enum Role: String, Codable, Sendable {
        /// The agent: it gets the group and recalls what readers wait for.
        case agent
        /// `alto-agent recall` where no agent runs: only its own opens of stubs are let through.
        case recall
    }

    var role: Role
}

/// What the stub guard sends an agent that connects, with the fanotify group's descriptor: the roots it marks,
/// the only ones where the agent may make stubs.
struct GuardHello: Codable, Sendable {
    var roots: [String]
}

/// What the stub guard asks the agent: recall the stub behind the descriptor passed with this message.
struct GuardRequest: Codable, Sendable {
    var id: UInt64
    var pid: Int32
    var path: String
}

/// Something the guard met that the tenant's admins must hear of, sent without a descriptor: a stub record a user
/// could have forged, or one that makes no sense.
struct GuardNotice: Codable, Sendable {
    var path: String
    var uid: UInt32
    var problem: String
}

/// The agent's answer: 0 lets the reader go on (the file is whole again), an errno fails its read.
struct GuardResponse: Codable, Sendable {
    var id: UInt64
    var error: Int32
}
