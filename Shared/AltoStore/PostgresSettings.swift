import Foundation
import NIOSSL
import PostgresNIO

/// How to reach PostgreSQL, from one `postgres://user:password@host:port/database[?sslmode=...&sslrootcert=...]`
/// URL. `sslmode` reads as libpq reads it: `disable`, `prefer` (the default: TLS when the server offers it),
/// `require` (TLS, any certificate), `verify-ca` (a certificate of `sslrootcert`'s authorities, or the system's)
/// and `verify-full` (that, for the URL's host name).
public struct PostgresSettings: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var database: String
    public var maximumConnections: Int
    public var tlsMode: TLSMode
    /// A PEM file of the certificate authorities the server's certificate must chain to.
    public var rootCertificates: String?

    public enum TLSMode: String, Sendable, Equatable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public init(url: String, maximumConnections: Int = 10) throws {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw StoreError(.configuration, "ALTO_POSTGRES_URL must be postgres://user:password@host:port/database")
        }
        self.host = components.host ?? "127.0.0.1"
        self.port = components.port ?? 5432
        self.user = components.user?.removingPercentEncoding ?? "alto"
        self.password = components.password?.removingPercentEncoding ?? ""
        let path = components.path
        self.database = path.count > 1 ? String(path.dropFirst()) : "alto"
        self.maximumConnections = maximumConnections
        let query = components.queryItems ?? []
        let mode = query.first { $0.name == "sslmode" }?.value ?? TLSMode.prefer.rawValue
        guard let tlsMode = TLSMode(rawValue: mode) else {
            throw StoreError(.configuration, "sslmode \(mode) is not one of disable, prefer, require, verify-ca, verify-full")
        }
        self.tlsMode = tlsMode
        rootCertificates = query.first { $0.name == "sslrootcert" }?.value
    }

    /// What TLS asks of the server's certificate, by `tlsMode`.
    var tlsConfiguration: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch tlsMode {
        case .disable, .prefer, .require: configuration.certificateVerification = .none
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        case .verifyFull: configuration.certificateVerification = .fullVerification
        }
        if let rootCertificates { configuration.trustRoots = .file(rootCertificates) }
        return configuration
    }

    var clientTLS: PostgresClient.Configuration.TLS {
        switch tlsMode {
        case .disable: .disable
        case .prefer: .prefer(tlsConfiguration)
        default: .require(tlsConfiguration)
        }
    }

    func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        switch tlsMode {
        case .disable: return .disable
        case .prefer: return .prefer(try NIOSSLContext(configuration: tlsConfiguration))
        default: return .require(try NIOSSLContext(configuration: tlsConfiguration))
        }
    }

    /// The same server and credentials with another database; its URL form is `url`.
    public func database(_ name: String) -> PostgresSettings {
        var copy = self
        copy.database = name
        return copy
    }

    /// The settings as a URL again, password included, for handing to a child process.
    public var url: String {
        var components = URLComponents()
        components.scheme = "postgres"
        components.user = user
        components.password = password
        components.host = host
        components.port = port
        components.path = "/" + database
        components.queryItems = [URLQueryItem(name: "sslmode", value: tlsMode.rawValue)]
            + (rootCertificates.map { [URLQueryItem(name: "sslrootcert", value: $0)] } ?? [])
        return components.string ?? ""
    }

    /// A pooled client; run it (it is a lifecycle service) before querying.
    public func makeClient(logger: Logger) -> PostgresClient {
        var configuration = PostgresClient.Configuration(host: host, port: port, username: user, password: password,
                                                         database: database, tls: clientTLS)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = 0
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// Runs `body` on one connection of its own, closed afterwards: for commands and start-up steps that need the
    /// database before (or without) a pooled client running.
    @discardableResult
    public func withConnection<Result: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        let configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                             database: database, tls: try connectionTLS())
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        } catch {
            throw StoreError(.unavailable, "cannot log in to PostgreSQL at \(self): \(Self.reason(error))")
        }
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}

extension PostgresSettings {
    /// What went wrong in words an operator can act on: the server's own message, or the network's, never the
    /// generic text PostgresNIO gives so that no bound value leaks into a log.
    static func reason(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return String(describing: error) }
        if let message = error.serverInfo?[.message] { return message }
        if let underlying = error.underlying { return String(describing: underlying) }
        return "\(error.code)"
    }
}

extension PostgresSettings: CustomStringConvertible {
    /// The URL without its password, for logs.
    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }
}
