import AltoTestSupport
import Foundation
import Testing

/// The API over TLS when given a certificate: curl trusting only that certificate talks to it, plain HTTP does
/// not, and half a configuration stops the API at start with a message that says what is missing.
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
}
