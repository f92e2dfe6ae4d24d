import AltoStore
import AltoTestSupport
import Foundation
import PostgresNIO
import Testing

/// The services reach PostgreSQL over TLS when their URL asks (`sslmode`, as libpq reads it), checking the
/// server's certificate against the authority `sslrootcert` names; `scripts/local-servers.sh` gives the local
/// server a certificate of this machine's own authority.
@Suite(.timeLimit(.minutes(2))) struct PostgresTLSTests {
    let authority = ProcessInfo.processInfo.environment["ALTO_LOCAL_CA"] ?? ""

    func encrypted(_ query: String) async throws -> Bool {
        let settings = try PostgresSettings(url: TestServers.postgresURL + query)
        return try await settings.withConnection(logger: TestServers.logger) { connection in
            for try await ssl in try await connection.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                                                            logger: TestServers.logger).decode(Bool.self) {
                return ssl
            }
            return false
        }
    }

    @Test func aURLThatAsksForVerifiedTLSGetsItAndOneThatRefusesItDoesNot() async throws {
        try #require(FileManager.default.fileExists(atPath: authority), "ALTO_LOCAL_CA names the local authority")
        #expect(try await encrypted("?sslmode=verify-full&sslrootcert=\(authority)"))
        #expect(try await encrypted("?sslmode=require"))
        #expect(try await !encrypted("?sslmode=disable"))
        await #expect(throws: (any Error).self, "a certificate of an authority the client does not trust is refused") {
            _ = try await encrypted("?sslmode=verify-full")
        }
        #expect(throws: StoreError.self) { try PostgresSettings(url: TestServers.postgresURL + "?sslmode=sometimes") }
    }
}
