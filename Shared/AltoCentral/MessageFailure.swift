import AltoAMQP
import PostgresNIO

/// Decides what a central consumer does with a message whose handling threw: wait for a database that is away, or
/// count a failure the message itself causes, so that a poison message ends in the dead-letter queue in bounded time
/// instead of holding a consumer's slot for ever.
public enum MessageFailure {
    /// SQLSTATE classes that say the server, not the statement, is the trouble: connection exceptions, rollbacks
    /// from serialization or deadlock, insufficient resources, operator intervention (a restart), system errors.
    static let transientClasses: Set<Substring> = ["08", "40", "53", "57", "58"]

    /// `.retry` while PostgreSQL is unreachable or asks for another try, `.failed` with the server's reason when
    /// it refuses what the message asks for (a value out of range, a foreign key to nothing), and `.failed` for any
    /// other error of the handler, which a retry rarely mends.
    public static func settlement(for error: any Error) -> AMQPSettlement {
        guard let error = error as? PSQLError else {
            return .failed(reason: String(describing: error))
        }
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else {
            return .retry
        }
        if transientClasses.contains(state.prefix(2)) || state == "55P03" {
            return .retry
        }
        let message = error.serverInfo?[.message] ?? "refused"
        return .failed(reason: "PostgreSQL \(state): \(message)")
    }
}
