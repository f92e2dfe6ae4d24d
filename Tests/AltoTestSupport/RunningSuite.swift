import AltoAMQP
import Foundation
import FoundationNetworking
import PostgresNIO

/// Alto's services started as separate processes against a database and a RabbitMQ vhost of their own, as the
/// end-to-end tests use them, with the HTTP and SQL helpers those tests share.
public final class RunningSuite: @unchecked Sendable {
    public let run: String
    public let work: URL
    public let databaseURL: String
    public let amqpURL: String
    public let basePort: Int
    public let vhost: String
    /// Every service's environment: the database, the vhost, and the log level.
    public let environment: [String: String]
    public private(set) var services: [ServiceProcess] = []

    public var apiURL: String { "http://127.0.0.1:\(basePort)" }
    public static let adminHeaders = ["Authorization": "Bearer alto-dev-admin"]

    /// Migrates a fresh database and starts `names` (alto-api first, on the base port; the others on the ports
    /// after it), waiting until each answers `/healthz`.
    public init(_ names: [String], environment extra: [String: String] = [:]) async throws {
        run = UUID().uuidString.prefix(8).lowercased()
        work = FileManager.default.temporaryDirectory.appendingPathComponent("alto-e2e-\(run)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        databaseURL = try await TestServers.freshDatabase(prefix: "alto_e2e")
        vhost = "alto-e2e-\(run)"
        try TestServers.rabbitmqctl("add_vhost", vhost)
        try TestServers.rabbitmqctl("set_permissions", "-p", vhost, "guest", "'.*'", "'.*'", "'.*'")
        amqpURL = TestServers.amqpURL.replacingOccurrences(of: "%2f", with: vhost)
        // Below Linux's ephemeral range (32768 and up), where an outgoing connection could hold one of the ports.
        basePort = Int.random(in: 20_000...32_000)
        environment = ["ALTO_POSTGRES_URL": try TestServers.serviceURL(for: databaseURL), "ALTO_POSTGRES_MIGRATION_URL": databaseURL,
                       "ALTO_AMQP_URL": amqpURL, "ALTO_LOG_LEVEL": "info", "ALTO_BCRYPT_COST": "4",
                       "ALTO_KEY_DIR": work.appendingPathComponent("keys").path].merging(extra) { _, new in new }
        let (status, output) = try ServiceProcess.run("alto-api", arguments: ["migrate"], environment: environment)
        guard status == 0 else { throw TestFailure("migrate failed: \(output)") }
        do {
            for (index, name) in names.enumerated() {
                services.append(try ServiceProcess(name, environment: environment.merging(["ALTO_HTTP_PORT": "\(basePort + index)"]) { _, new in new },
                                                   logFolder: work))
            }
            for index in names.indices { try await waitForHealth(port: basePort + index) }
        } catch {
            _ = await stop()
            throw error
        }
    }

    /// Adds a process to those `stop` ends, for example the agent.
    public func adopt(_ service: ServiceProcess) {
        services.append(service)
    }

    /// Runs a test's body against the suite, then stops it: on failure the services' logs are printed first; on
    /// success the work folder goes too. Returns the exit statuses, for tests that check clean shutdowns.
    @discardableResult
    public func whileRunning(_ body: () async throws -> Void) async throws -> [String: Int32?] {
        do {
            try await body()
        } catch {
            print(logs)
            _ = await stop()
            throw error
        }
        let statuses = await stop()
        try? FileManager.default.removeItem(at: work)
        return statuses
    }

    /// Sends SIGTERM to every service, newest first, and returns their exit statuses; drops the vhost.
    public func stop() async -> [String: Int32?] {
        var statuses: [String: Int32?] = [:]
        for service in services.reversed() { statuses[service.name] = await service.terminate() }
        services.removeAll()
        try? TestServers.rabbitmqctl("delete_vhost", vhost)
        return statuses
    }

    /// The services' logs, for a failing test's report.
    public var logs: String {
        services.map { "---- \($0.name)\n\($0.log.suffix(4000))" }.joined(separator: "\n")
    }

    /// Enrols a customer and one host, returning their ids and the host's agent token.
    public func enrol(_ name: String) async throws -> (customer: UUID, host: UUID, token: String) {
        struct Created: Decodable {
            var id: UUID
            var agent_token: String?
        }
        let customer: Created = try await post("/api/v1/customers", ["name": name])
        let host: Created = try await post("/api/v1/customers/\(customer.id)/hosts", ["hostname": "fs-\(name)"])
        guard let token = host.agent_token else { throw TestFailure("enrolment gave no agent token") }
        return (customer.id, host.id, token)
    }

    /// What `alto-agent` needs to act as the given host.
    public func agentEnvironment(customer: UUID, host: UUID, token: String, state: String = "agent-state") -> [String: String] {
        environment.merging([
            "ALTO_API_URL": apiURL, "ALTO_AGENT_TOKEN": token, "ALTO_CUSTOMER_ID": customer.uuidString,
            "ALTO_HOST_ID": host.uuidString, "ALTO_HTTP_PORT": "\(basePort + 9)",
            "ALTO_AGENT_STATE_DIR": work.appendingPathComponent(state).path, "ALTO_AGENT_START_GUARD": "false",
        ]) { _, new in new }
    }

    /// POSTs JSON to an admin route (a tenant route when `customer` is given) and decodes the 201 answer.
    public func post<Response: Decodable>(_ path: String, _ body: [String: any Sendable], customer: UUID? = nil,
                                          expecting expected: Int = 201) async throws -> Response {
        let json = try JSONSerialization.data(withJSONObject: body)
        var headers = Self.adminHeaders.merging(["Content-Type": "application/json"]) { _, n in n }
        if let customer { headers["X-Alto-Customer-Id"] = customer.uuidString }
        let (status, text) = try await send(apiURL + path, body: json, headers: headers)
        guard status == expected else { throw TestFailure("POST \(path) answered \(status): \(text)") }
        return try JSONDecoder().decode(Response.self, from: Data(text.utf8))
    }

    /// Signs a user in through `POST /api/v1/sessions`: the status, and the session token when there is one.
    public func signIn(email: String, password: String) async throws -> (status: Int, token: String?) {
        let (status, text) = try await send("POST", apiURL + "/api/v1/sessions",
                                            body: try JSONSerialization.data(withJSONObject: ["email": email, "password": password]),
                                            headers: ["Content-Type": "application/json"])
        let answer = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        return (status, answer?["token"] as? String)
    }

    /// Sends a request (POST with a body, GET without) and returns the status and the body; a body is sent as
    /// `text/csv` unless the headers say otherwise.
    public func send(_ url: String, body: Data?, headers: [String: String]) async throws -> (Int, String) {
        try await send(body == nil ? "GET" : "POST", url, body: body, headers: headers)
    }

    /// Sends a request with any method and returns the status and the body.
    public func send(_ method: String, _ url: String, body: Data?, headers: [String: String]) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.httpBody = body
        if body != nil { request.setValue("text/csv", forHTTPHeaderField: "Content-Type") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    public func waitForHealth(port: Int) async throws {
        try await Self.waitUntil("service on port \(port) is healthy", timeout: .seconds(30)) {
            (try? await send("http://127.0.0.1:\(port)/healthz", body: nil, headers: [:]).0) == 200
        }
    }

    public static func waitUntil(_ what: String, timeout: Duration, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestFailure("timed out waiting until \(what)")
    }

    /// Takes every message off `queue` (acknowledging it) until none has come for `quiet`, so a test can say that
    /// exactly these were published: nothing missing, nothing twice.
    public func drain(_ queue: String, quiet: Duration = .seconds(2), timeout: Duration = .seconds(60)) async throws -> [AMQPMessage] {
        let consumer = AMQPConsumer(configuration: try AMQPConfiguration(url: amqpURL), queue: queue, prefetch: 50,
                                    declarations: AMQPDeclaration.standard, logger: TestServers.logger)
        let collected = MessageLog()
        let reader = Task {
            for await delivery in consumer.deliveries() {
                await collected.append(delivery.message)
                consumer.settle(delivery, .ack)
            }
        }
        let deadline = ContinuousClock.now + timeout
        var seen = -1
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: quiet)
            let count = await collected.messages.count
            if count == seen { break }
            seen = count
        }
        consumer.stop()
        await consumer.close()
        reader.cancel()
        return await collected.messages
    }

    private actor MessageLog {
        var messages: [AMQPMessage] = []
        func append(_ message: AMQPMessage) { messages.append(message) }
    }

    public static func count(_ postgres: PostgresClient, _ sql: String) async throws -> Int {
        for try await value in try await postgres.query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) { return value }
        return 0
    }
}
