/// Why a database operation of Alto's own failed; cases may be added without breaking callers.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case configuration
        case migration
        case notFound
        case conflict
        /// The server could not be reached, or refused the login.
        case unavailable
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
