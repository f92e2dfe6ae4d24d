import Foundation

/// Where and how to reach the broker; parsed from an `amqp://` URL so one environment variable configures it.
public struct AMQPConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var virtualHost: String
    /// The longest pause between two connection attempts while the broker is unreachable.
    public var maximumReconnectDelay: Duration
    /// How long a publish waits for its confirm, across reconnects, before it fails.
    public var publishTimeout: Duration
    /// Seconds between heartbeats each way; a peer silent for two of them is taken as gone. Zero turns them off.
    public var heartbeatSeconds: Int
    /// `amqps://`: TLS, with the broker's certificate and host name verified.
    public var usesTLS = false
    /// A PEM file of the certificate authorities a TLS broker's certificate must chain to (`?cacertfile=`).
    public var certificateAuthorities: String?
    /// An account whose address and login replace these at every connection, for a login that the process is
    /// given while it runs (an agent's own, which the API issues).
    public var account: AMQPAccount?

    public init(
        host: String = "127.0.0.1",
        port: Int = 5672,
        user: String = "guest",
        password: String = "guest",
        virtualHost: String = "/",
        maximumReconnectDelay: Duration = .seconds(5),
        publishTimeout: Duration = .seconds(60),
        heartbeatSeconds: Int = 30
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.virtualHost = virtualHost
        self.maximumReconnectDelay = maximumReconnectDelay
        self.publishTimeout = publishTimeout
        self.heartbeatSeconds = heartbeatSeconds
    }

    /// Reads `amqp[s]://user:password@host:port/vhost[?heartbeat=seconds&cacertfile=path]`; the vhost is
    /// percent-decoded, so `%2f` is `/`.
    public init(url: String) throws {
        guard let components = URLComponents(string: url), components.scheme == "amqp" || components.scheme == "amqps" else {
            throw AMQPError.invalidURL(url)
        }
        self.init()
        if components.scheme == "amqps" {
            usesTLS = true
            port = 5671
        }
        if let host = components.host, !host.isEmpty { self.host = host }
        if let port = components.port { self.port = port }
        if let user = components.user { self.user = user.removingPercentEncoding ?? user }
        if let password = components.password { self.password = password.removingPercentEncoding ?? password }
        let path = components.percentEncodedPath
        if path.count > 1 {
            let vhost = String(path.dropFirst())
            self.virtualHost = vhost.removingPercentEncoding ?? vhost
        }
        if let heartbeat = components.queryItems?.first(where: { $0.name == "heartbeat" })?.value {
            guard let seconds = Int(heartbeat), seconds >= 0 else { throw AMQPError.invalidURL(url) }
            self.heartbeatSeconds = seconds
        }
        certificateAuthorities = components.queryItems?.first(where: { $0.name == "cacertfile" })?.value
    }
}

extension AMQPConfiguration: CustomStringConvertible {
    /// Names the broker without its password, so the configuration can be logged.
    public var description: String {
        if let account { return account.current.map { "\($0)" } ?? "a broker account not issued yet" }
        return plainDescription
    }

    private var plainDescription: String {
        "\(usesTLS ? "amqps" : "amqp")://\(user)@\(host):\(port)/\(virtualHost == "/" ? "%2f" : virtualHost)"
    }

    /// The broker's URL without any login, as another process is told where to connect.
    public var address: String {
        let vhost = virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))
            ?? virtualHost
        return "\(usesTLS ? "amqps" : "amqp")://\(host):\(port)/\(vhost)"
    }
}
