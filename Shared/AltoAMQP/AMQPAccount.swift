import Synchronization

/// A broker address and login that a process is given while it runs rather than at start: an agent's own account,
/// which the API issues, and issues anew once the broker refuses it (rotated, or the host's token revoked). Every
/// connection reads the current one; until there is one, connecting fails and is retried like a broker that is away.
public final class AMQPAccount: Sendable, Equatable {
    private struct State {
        var configuration: AMQPConfiguration?
        var refusals = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Where to connect and as whom, once known.
    public var current: AMQPConfiguration? { state.withLock { $0.configuration } }

    /// Logins the broker refused since the account was last replaced.
    public var refusals: Int { state.withLock { $0.refusals } }

    public func replace(_ configuration: AMQPConfiguration) {
        var configuration = configuration
        configuration.account = nil
        state.withLock { $0 = State(configuration: configuration) }
    }

    func refused() {
        state.withLock { $0.refusals += 1 }
    }

    /// The same account: the same object, whatever it holds now.
    public static func == (lhs: AMQPAccount, rhs: AMQPAccount) -> Bool { lhs === rhs }
}
