import AltoTestSupport
import Foundation
import HummingbirdWSClient
import Testing

/// Connections that send nothing, or a request head the parser refuses, are closed (by `ALTO_API_IDLE_SECONDS` at
/// the latest) instead of holding a socket for ever, while a WebSocket kept alive by the API's pings outlives that.
@Suite(.timeLimit(.minutes(3))) struct IdleConnectionTests {
    @Test func silentAndUnparsableConnectionsAreClosedAndAWebSocketStaysOpen() async throws {
        let suite = try await RunningSuite(["alto-api"], environment: ["ALTO_API_IDLE_SECONDS": "6"])
        try await suite.whileRunning {
            let port = try #require(URL(string: suite.apiURL)?.port)
            let closedAfter = try await PeerServer.python("""
                import socket, time
                sockets = []
                for index in range(20):
                    connection = socket.create_connection(("127.0.0.1", \(port)))
                    if index % 2:
                        connection.sendall(b"GET /healthz HTTP/1.1\\r\\nHost: alto\\r\\nX-Probe: a\\x00b\\r\\n\\r\\n")
                    sockets.append(connection)
                started = time.monotonic()
                deadline = started + 30
                longest = 0.0
                for connection in sockets:
                    try:
                        connection.settimeout(max(0.1, deadline - time.monotonic()))
                        while connection.recv(4096):
                            pass
                        longest = max(longest, time.monotonic() - started)
                    except ConnectionResetError:
                        longest = max(longest, time.monotonic() - started)
                    except socket.timeout:
                        longest = 99.0
                        break
                print(round(longest, 1))
                """)
            let seconds = try #require(Double(closedAfter))
            #expect(seconds < 20, "twenty idle or unparsable connections were all closed, within \(seconds) s (99: one was still open after 30 s)")

            struct Created: Decodable { var id: UUID }
            let (customer, _, _) = try await suite.enrol("idle-\(suite.run)")
            let _: Created = try await suite.post("/api/v1/users", ["email": "viewer-\(suite.run)@example.com", "password": "a long enough password",
                                                                    "role": "viewer"], customer: customer)
            let (status, token) = try await suite.signIn(email: "viewer-\(suite.run)@example.com", password: "a long enough password")
            #expect(status == 201)
            var settings = WebSocketClientConfiguration()
            settings.additionalHeaders = [.authorization: "Bearer \(token ?? "")"]
            let configuration = settings
            let url = suite.apiURL.replacingOccurrences(of: "http://", with: "ws://") + "/api/v1/notifications"
            let opened = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await WebSocketClient.connect(url: url, configuration: configuration, logger: TestServers.logger) { inbound, _, _ in
                        for try await _ in inbound.messages(maxSize: 1 << 20) {}
                    }
                }
                group.addTask { try await Task.sleep(for: .seconds(20)) }
                try await group.next()
                group.cancelAll()
            }
            #expect(ContinuousClock.now - opened >= .seconds(19.5), "the WebSocket outlived three idle periods")
            #expect(try await suite.send("GET", suite.apiURL + "/healthz", body: nil, headers: [:]).0 == 200, "the API still answers")
        }
    }
}
