import AltoAMQP
import AltoModels
import AltoTestSupport
import Foundation
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers
import Testing

/// The notifications WebSocket: a tenant's user follows what happens in their tenant and nothing of another's,
/// and an upgrade without a valid token, or for another tenant, is refused before any frame is sent.
@Suite(.timeLimit(.minutes(5))) struct NotificationTests {
    @Test func eachTenantHearsOnlyItsOwnNotifications() async throws {
        let suite = try await RunningSuite(["alto-api"])
        try await suite.whileRunning {
            let mine = try await suite.enrol("mine-\(suite.run)")
            let theirs = try await suite.enrol("theirs-\(suite.run)")
            let myToken = try await session(suite, customer: mine.customer, email: "mine-\(suite.run)@example.com")
            let theirToken = try await session(suite, customer: theirs.customer, email: "theirs-\(suite.run)@example.com")
            let socket = suite.apiURL.replacingOccurrences(of: "http://", with: "ws://") + "/api/v1/notifications"

            let mineHeard = NIOLockedValueBox<[String]>([])
            let theirsHeard = NIOLockedValueBox<[String]>([])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (token, heard) in [(myToken, mineHeard), (theirToken, theirsHeard)] {
                    group.addTask { try await listen(socket, token: token, into: heard, for: .seconds(8)) }
                }
                // Give both connections a moment to subscribe, then publish as the actor does.
                try await Task.sleep(for: .seconds(2))
                let publisher = AMQPPublisher(configuration: try AMQPConfiguration(url: suite.amqpURL), logger: TestServers.logger)
                for (tenant, host, event) in [(theirs.customer, theirs.host, "their.event"), (mine.customer, mine.host, "my.event")] {
                    let envelope = Envelope(customerID: tenant, hostID: host,
                                            payload: AltoNotification(event: event, jobID: UUID(), summary: "for \(event)"))
                    try await publisher.publish(AMQPMessage(body: try envelope.encoded()), exchange: AMQPTopology.notificationsExchange, routingKey: "")
                }
                await publisher.shutdown()
                try await group.waitForAll()
            }
            let mineEvents = mineHeard.withLockedValue { $0 }
            let theirsEvents = theirsHeard.withLockedValue { $0 }
            #expect(mineEvents.count == 1 && mineEvents.first?.contains("my.event") == true, "\(mineEvents)")
            #expect(theirsEvents.count == 1 && theirsEvents.first?.contains("their.event") == true, "\(theirsEvents)")

            // No token, a forged one, or a header naming the other tenant: the access middleware refuses the request
            // (401, 404), and the WebSocket upgrade of the same request is refused (no 101, no frame).
            for (headers, status) in [([String](), "401"), (["Authorization: Bearer forged"], "401"),
                                      (["Authorization: Bearer \(myToken)", "X-Alto-Customer-Id: \(theirs.customer)"], "404")] {
                let upgrade = ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]
                for (asked, expected) in [([String](), [status]), (upgrade, ["400", status])] {
                    let outcome = try await Command.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5"]
                                                  + (asked + headers).flatMap { ["-H", $0] } + [suite.apiURL + "/api/v1/notifications"])
                    let answer = String(decoding: outcome.output, as: UTF8.self)
                    #expect(expected.contains(answer), "\(headers), upgrade asked: \(!asked.isEmpty): \(answer)")
                }
            }
        }
    }

    @Test func aConnectionClosesWithinSecondsOfItsSessionEndingOrChanging() async throws {
        let suite = try await RunningSuite(["alto-api"], environment: ["ALTO_API_SOCKET_RECHECK_SECONDS": "1"])
        try await suite.whileRunning {
            let tenant = try await suite.enrol("sessions-\(suite.run)")
            let names = ["signs-out", "role-changed", "disabled", "untouched"]
            var tokens: [String: String] = [:]
            for name in names {
                tokens[name] = try await session(suite, customer: tenant.customer, email: "\(name)-\(suite.run)@example.com")
            }
            struct Listed: Decodable {
                var id: UUID
                var email: String
            }
            struct Users: Decodable { var users: [Listed] }
            let socket = suite.apiURL.replacingOccurrences(of: "http://", with: "ws://") + "/api/v1/notifications"
            let closedAfter = NIOLockedValueBox<[String: Duration]>([:])
            let opened = ContinuousClock.now
            let everyToken = tokens
            try await withThrowingTaskGroup(of: Void.self) { group in
                for name in names {
                    group.addTask {
                        let heard = NIOLockedValueBox<[String]>([])
                        try await listen(socket, token: everyToken[name]!, into: heard, for: .seconds(20))
                        closedAfter.withLockedValue { $0[name] = ContinuousClock.now - opened }
                    }
                }
                try await Task.sleep(for: .seconds(3))
                let changed = ContinuousClock.now
                let admin = RunningSuite.adminHeaders.merging(["Content-Type": "application/json",
                                                               "X-Alto-Customer-Id": tenant.customer.uuidString]) { _, new in new }
                let (_, listing) = try await suite.send("GET", suite.apiURL + "/api/v1/users", body: nil, headers: admin)
                let users = try JSONDecoder().decode(Users.self, from: Data(listing.utf8)).users
                func id(_ name: String) -> UUID { users.first { $0.email.hasPrefix(name) }!.id }
                #expect(try await suite.send("DELETE", suite.apiURL + "/api/v1/sessions", body: nil,
                                             headers: ["Authorization": "Bearer \(everyToken["signs-out"]!)"]).0 == 204)
                #expect(try await suite.send("PATCH", suite.apiURL + "/api/v1/users/\(id("role-changed"))",
                                             body: Data(#"{"role":"operator"}"#.utf8), headers: admin).0 == 200)
                #expect(try await suite.send("PATCH", suite.apiURL + "/api/v1/users/\(id("disabled"))",
                                             body: Data(#"{"disabled":true}"#.utf8), headers: admin).0 == 200)
                try await group.waitForAll()
                let closed = closedAfter.withLockedValue { $0 }
                for name in names.dropLast() {
                    let after = (closed[name] ?? .seconds(99)) - (changed - opened)
                    #expect(after < .seconds(5), "\(name): closed \(after) after the change")
                }
                #expect((closed["untouched"] ?? .zero) >= .seconds(19), "an untouched session stays connected")
            }
        }
    }

    /// Collects the text frames a connection receives for `duration`.
    func listen(_ url: String, token: String, into heard: NIOLockedValueBox<[String]>, for duration: Duration) async throws {
        var settings = WebSocketClientConfiguration()
        settings.additionalHeaders = [.authorization: "Bearer \(token)"]
        let configuration = settings
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await WebSocketClient.connect(url: url, configuration: configuration, logger: TestServers.logger) { inbound, _, _ in
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        if case .text(let text) = message { heard.withLockedValue { $0.append(text) } }
                    }
                }
            }
            group.addTask { try await Task.sleep(for: duration) }
            try await group.next()
            group.cancelAll()
        }
    }

    /// A viewer of `customer`, signed in.
    func session(_ suite: RunningSuite, customer: UUID, email: String) async throws -> String {
        struct Created: Decodable { var id: UUID }
        let _: Created = try await suite.post("/api/v1/users", ["email": email, "password": "a long enough password", "role": "viewer"],
                                              customer: customer)
        let (status, token) = try await suite.signIn(email: email, password: "a long enough password")
        guard status == 201, let token else { throw TestFailure("login answered \(status)") }
        return token
    }
}
