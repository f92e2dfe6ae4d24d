import Logging
import Synchronization

/// Log messages kept in memory, so a test can check what a component said (a reconnect, a warning).
public final class CapturedLogs: Sendable {
    private let messages = Mutex<[String]>([])
    private let details = Mutex<[String]>([])

    public init() {}

    public func logger(label: String = "captured") -> Logger {
        Logger(label: label) { label in Handler(logs: self) }
    }

    public var all: [String] { messages.withLock { $0 } }

    /// Each message with its metadata, where a component puts the error it met.
    public var allWithMetadata: [String] { details.withLock { $0 } }

    public func count(containing text: String) -> Int { all.filter { $0.contains(text) }.count }

    struct Handler: LogHandler {
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            logs.messages.withLock { $0.append(event.message.description) }
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            logs.details.withLock { $0.append("\(event.message) \(merged)") }
        }
    }
}
