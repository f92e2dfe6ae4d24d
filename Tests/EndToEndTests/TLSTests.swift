import AltoAMQP
import AltoModels
import AltoTestSupport
import Foundation
import PostgresNIO
import Testing

/// The API over TLS when given a certificate: curl trusting only that certificate talks to it, plain HTTP does
/// not, and half a configuration stops the API at start with a message that says what is missing. And the
/// services over `amqps://` to a broker whose certificate they verify.
@Suite(.timeLimit(.minutes(5))) struct TLSTests {
    @Test func theAPIServesHTTPSWithTheCertificateItIsGiven() async throws {
        let suite = try await RunningSuite([])
        try await suite.whileRunning {
            let certificate = suite.work.appendingPathComponent("api.pem").path
            let key = suite.work.appendingPathComponent("api.key").path
            let made = try await Command.run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate,
                                                   "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            #expect(made.status == 0, "\(made.errors)")
            let port = try await suite.start("alto-api", environment: ["ALTO_TLS_CERTIFICATE": certificate, "ALTO_TLS_KEY": key])
                .waitUntilListening()
            func curl(_ arguments: [String]) async throws -> String {
                String(decoding: try await Command.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5"] + arguments).output,
                       as: UTF8.self)
            }
            try await RunningSuite.waitUntil("the API answers over HTTPS", timeout: .seconds(30)) {
                try await curl(["--cacert", certificate, "https://127.0.0.1:\(port)/healthz"]) == "200"
            }
            #expect(try await curl(["--cacert", certificate, "https://127.0.0.1:\(port)/api/v1/rules"]) == "401")
            #expect(try await curl(["https://127.0.0.1:\(port)/healthz"]) == "000", "an unknown certificate is not trusted")
            #expect(try await curl(["http://127.0.0.1:\(port)/healthz"]) != "200", "no plain HTTP beside it")

            let (status, output) = try await ServiceProcess.run("alto-api", arguments: [], environment: suite.environment.merging([
                "ALTO_HTTP_PORT": "0", "ALTO_TLS_CERTIFICATE": certificate,
            ]) { _, new in new })
            #expect(status != 0)
            #expect(output.contains("ALTO_TLS_CERTIFICATE and ALTO_TLS_KEY go together"), "\(output)")
        }
    }

    /// The broker's TLS listener (`scripts/local-servers.sh` starts one with the machine's own authority) for the
    /// suite's vhost, trusting `authority`. By name: librabbitmq checks a certificate's DNS names, never its IP
    /// addresses, so a broker reached as 127.0.0.1 would be refused.
    static func brokerOverTLS(_ suite: RunningSuite, authority: String) throws -> String {
        let port = try #require(ProcessInfo.processInfo.environment["ALTO_LOCAL_AMQPS_PORT"], "local-servers.sh env names the TLS port")
        var url = try #require(URLComponents(string: suite.amqpURL))
        url.scheme = "amqps"
        url.host = "localhost"
        url.port = Int(port)
        url.queryItems = [URLQueryItem(name: "cacertfile", value: authority)]
        return try #require(url.string)
    }

    @Test func theServicesTalkToTheBrokerOverTLSAndRefuseACertificateTheyDoNotTrust() async throws {
        let suite = try await RunningSuite([])
        try await suite.whileRunning {
            let authority = try #require(ProcessInfo.processInfo.environment["ALTO_LOCAL_CA"])
            let overTLS = try Self.brokerOverTLS(suite, authority: authority)
            try await suite.launch("alto-api", environment: ["ALTO_AMQP_URL": overTLS])
            try await suite.launch("alto-ingest", environment: ["ALTO_AMQP_URL": overTLS])
            let (customer, host, token) = try await suite.enrol("amqps-\(suite.run)")
            let batch = ScanCSV.header + "/srv/a.txt,10,2025-01-01T00:00:00Z,,,0644,alice,\n/srv/b.txt,20,2025-01-01T00:00:00Z,,,0644,bob,\n"
            let (status, text) = try await suite.send(suite.apiURL + "/api/v1/scan-results", body: Data(batch.utf8), headers: [
                "X-Alto-Customer-Id": customer.uuidString, "X-Alto-Host-Id": host.uuidString, "X-Alto-Batch-Id": UUID().uuidString,
                "X-Alto-Scan-Id": UUID().uuidString, "X-Alto-Full-Scan": "true", "Content-Type": "text/csv", "Authorization": "Bearer \(token)",
            ])
            #expect(status == 202, "\(text)")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("the batch went through the broker to ingest", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE host_id = '\(host)'") == 2
                }
            }
            // The broker says each of the services' connections to the suite's vhost is TLS (its management API
            // lists a connection once it has gathered the connection's statistics, within seconds).
            let vhost = try AMQPConfiguration(url: suite.amqpURL).virtualHost
            var ours: [[String: Any]] = []
            try await RunningSuite.waitUntil("the broker lists the services' connections", timeout: .seconds(30)) {
                let connections = try await Command.run("curl", ["-fsS", "-m", "10", TestServers.brokerManagementURL + "/api/connections"])
                let listed = try JSONSerialization.jsonObject(with: connections.output) as? [[String: Any]] ?? []
                ours = listed.filter { $0["vhost"] as? String == vhost }
                return ours.count >= 2
            }
            #expect(ours.allSatisfy { $0["ssl"] as? Bool == true }, "every connection is TLS")

            // A client trusting another authority does not talk to the broker: the handshake fails, nothing is sent.
            let stranger = suite.work.appendingPathComponent("stranger.pem").path
            let made = try await Command.run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", suite.work.appendingPathComponent("stranger.key").path,
                                                   "-out", stranger, "-days", "1", "-subj", "/CN=Another CA"])
            #expect(made.status == 0, "\(made.errors)")
            var distrustful = try AMQPConfiguration(url: try Self.brokerOverTLS(suite, authority: stranger))
            distrustful.publishTimeout = .seconds(3)
            distrustful.maximumReconnectDelay = .milliseconds(500)
            let publisher = AMQPPublisher(configuration: distrustful, logger: TestServers.logger)
            await #expect(throws: (any Error).self) {
                try await publisher.publish(AMQPMessage(body: Array("{}".utf8)), routingKey: "amqps-refused")
            }
            await publisher.shutdown()
        }
    }
}
