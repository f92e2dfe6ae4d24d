/// Why a broker operation failed; cases may be added without breaking callers that switch with a default.
public struct AMQPError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case invalidURL
        case connectionFailed
        case protocolFailure
        case publishRejected
        case unroutable
        case timedOut
        case shutDown
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    static func invalidURL(_ url: String) -> AMQPError {
        AMQPError(.invalidURL, "not an amqp:// URL: \(url.split(separator: "@").last.map(String.init) ?? "")")
    }

    public var description: String { "AMQP \(code): \(message)" }
}
