import AltoAMQP
import Foundation
import FoundationNetworking
import PostgresNIO
import Synchronization

/// Alto's services started as separate processes against a database and a RabbitMQ vhost of their own, as the
/// end-to-end tests use them, with the HTTP and SQL helpers those tests share.
///
/// Each suite holds one of `SuiteSlots`' few places while it runs, so a machine with two cores never has more than
/// two suites' processes starting at once, however many tests the runner starts in parallel.
public final class RunningSuite: APIClient, @unchecked Sendable {
    public let backends: TestBackends
    private let services = Mutex<[ServiceProcess]>([])
    private let slot: SuiteSlots.Slot
    /// Whether the vhost was dropped; the database stays for a post-mortem until the next run of the tests.
    private let released = Atomic<Bool>(false)

    public var run: String { backends.run }
    public var work: URL { backends.work }
    public var databaseURL: String { backends.databaseURL }
    public var amqpURL: String { backends.amqpURL }
    /// Every service's environment: the database, the vhost, and the log level.
    public var environment: [String: String] { backends.environment }

    /// The API's address; the suite's first `alto-api` serves it.
    public var apiURL: String {
        let api = services.withLock { $0.first { $0.name == "alto-api" } }
        return "http://127.0.0.1:\((try? api?.port) ?? 0)"
    }

    public static let adminHeaders = ["Authorization": "Bearer \(TestBackends.adminToken)"]

    /// Migrates a fresh database and starts `names`, each on a port of the kernel's choosing, waiting until each
    /// answers `/healthz`; a service that exits instead fails the suite at once, with its log.
    public init(_ names: [String], environment extra: [String: String] = [:]) async throws {
        slot = await SuiteSlots.shared.acquire()
        do {
            backends = try await TestBackends.make("e2e", environment: extra)
        } catch {
            await slot.release()
            throw error
        }
        do {
            let (status, output) = try await ServiceProcess.run("alto-api", arguments: ["migrate"], environment: environment)
            guard status == 0 else { throw TestFailure("alto-api migrate exited with \(status): \(output)") }
            let started = try names.map { try start($0) }
            for service in started { try await service.waitUntilHealthy() }
        } catch {
            _ = await stop()
            throw error
        }
    }

    /// The first running process of `executable`.
    public func service(_ executable: String) -> ServiceProcess? {
        services.withLock { $0.first { $0.name == executable } }
    }

    /// Every process of `executable` the suite started, in the order it started them: a stage's replicas.
    public func services(_ executable: String) -> [ServiceProcess] {
        services.withLock { $0.filter { $0.name == executable } }
    }

    /// Starts an executable with the suite's environment plus `extra` and adds it to those `stop` ends, without
    /// waiting for it: for processes that serve no `/healthz` (the stub guard) or that a test watches start.
    @discardableResult
    public func start(_ executable: String, arguments: [String] = [], environment extra: [String: String] = [:],
                      launcher: [String] = []) throws -> ServiceProcess {
        // The services hold their own login only: the schema's owner is for `alto-api migrate`, run before them.
        let variables = environment.merging(["ALTO_POSTGRES_MIGRATION_URL": ""]) { _, new in new }.merging(extra) { _, new in new }
        let service = try ServiceProcess(executable, arguments: arguments, environment: variables, logFolder: work, launcher: launcher)
        services.withLock { $0.append(service) }
        return service
    }

    /// Starts an executable as `start` does and waits until it is healthy.
    @discardableResult
    public func launch(_ executable: String, arguments: [String] = [], environment extra: [String: String] = [:],
                       launcher: [String] = []) async throws -> ServiceProcess {
        let service = try start(executable, arguments: arguments, environment: extra, launcher: launcher)
        do {
            try await service.waitUntilHealthy()
        } catch {
            await service.terminate()
            throw error
        }
        return service
    }

    /// Runs a test's body against the suite, then stops it and checks how each service ended: one that exited on
    /// its own, or did not exit 0 on SIGTERM, fails the test with its log, as does a body that throws. On success
    /// the work folder goes too. Returns the exit statuses of the services it stopped.
    @discardableResult
    public func whileRunning(_ body: () async throws -> Void) async throws -> [String: Int32?] {
        do {
            try await body()
        } catch {
            print(logs)
            _ = await stop()
            throw error
        }
        let ended = services.withLock { $0 }.filter { !$0.isSettled && !$0.isRunning }
        let statuses = await stop()
        var problems = ended.map { "\($0.name) exited on its own with status \($0.exitStatus.map(String.init) ?? "?"); its log:\n\($0.logTail)" }
        for (service, status) in statuses where status != 0 && !ended.contains(where: { $0 === service }) {
            problems.append("\(service.name) " + (status.map { "exited with status \($0) on SIGTERM" }
                                                   ?? "did not stop within \(ServiceProcess.stopTimeout) of SIGTERM")
                            + "; its log:\n\(service.logTail)")
        }
        guard problems.isEmpty else { throw TestFailure(problems.joined(separator: "\n")) }
        try? FileManager.default.removeItem(at: work)
        return Dictionary(statuses.map { ($0.0.name, $0.1) }) { first, _ in first }
    }

    /// Sends SIGTERM to every service the test did not end itself, newest first, and returns each one's exit
    /// status (nil: it had to be killed); drops the vhost and gives the suite's slot back.
    public func stop() async -> [(ServiceProcess, Int32?)] {
        let running = services.withLock { services in
            defer { services.removeAll() }
            return services.filter { !$0.isSettled }
        }
        var statuses: [(ServiceProcess, Int32?)] = []
        for service in running.reversed() { statuses.append((service, await service.stop())) }
        if released.exchange(true, ordering: .relaxed) == false { await backends.release() }
        await slot.release()
        return statuses
    }

    /// A suite dropped without `stop` (a test that threw before `whileRunning`) still ends its processes and
    /// gives its slot back, so no later test waits for it.
    deinit {
        for service in services.withLock({ $0 }) where !service.isSettled { service.kill() }
        let (slot, backends, released) = (slot, backends, released.load(ordering: .relaxed))
        Task {
            if !released { await backends.release() }
            await slot.release()
        }
    }

    /// The services' logs, for a failing test's report.
    public var logs: String {
        services.withLock { $0 }.map { "---- \($0.name)\n\($0.logTail)" }.joined(separator: "\n")
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

    /// The broker account the API issues to `host`'s agent, asked for as the agent asks, with a short publish
    /// timeout so a refusal shows in seconds.
    public func brokerAccount(customer: UUID, host: UUID, token: String) async throws -> AMQPConfiguration {
        let (status, text) = try await send("POST", apiURL + "/api/v1/agent/broker-account", body: nil, headers: [
            "Authorization": "Bearer \(token)", "X-Alto-Customer-Id": customer.uuidString, "X-Alto-Host-Id": host.uuidString,
        ])
        struct Issued: Decodable {
            var url: String
            var username: String
            var password: String
        }
        guard status == 201 else { throw TestFailure("the API issued no broker account: \(status) \(text)") }
        let issued = try JSONDecoder().decode(Issued.self, from: Data(text.utf8))
        var configuration = try AMQPConfiguration(url: issued.url)
        configuration.user = issued.username
        configuration.password = issued.password
        configuration.publishTimeout = .seconds(5)
        configuration.maximumReconnectDelay = .milliseconds(500)
        return configuration
    }

    /// What `alto-agent` needs to act as the given host, managing the suite's work folder. Unless `guarded`, it makes
    /// stubs without a stub guard (the tests of scanning and tiering, whose folders are no mounts of their own); the
    /// tests of reading stubs run the real guard on a root of their own.
    public func agentEnvironment(customer: UUID, host: UUID, token: String, state: String = "agent-state",
                                 guarded: Bool = false) -> [String: String] {
        environment.merging([
            "ALTO_API_URL": apiURL, "ALTO_AGENT_TOKEN": token, "ALTO_CUSTOMER_ID": customer.uuidString,
            "ALTO_HOST_ID": host.uuidString, "ALTO_AGENT_STATE_DIR": work.appendingPathComponent(state).path,
            "ALTO_AGENT_START_GUARD": "false", "ALTO_AGENT_UNGUARDED_STUBS": guarded ? "false" : "true", "ALTO_AGENT_SCAN_ROOTS": work.path,
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

    /// Sends a request (POST with a body, GET without) and returns the status and the body; a body is sent as
    /// `text/csv` unless the headers say otherwise.
    public func send(_ url: String, body: Data?, headers: [String: String]) async throws -> (Int, String) {
        try await send(body == nil ? "GET" : "POST", url, body: body, headers: headers)
    }

    public func request(_ method: String, _ path: String, body: Data?, headers: [String: String]) async throws -> (Int, String) {
        try await send(method, apiURL + path, body: body, headers: headers)
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

    public static func count(_ postgres: PostgresConnection, _ sql: String) async throws -> Int {
        for try await value in try await postgres.query(PostgresQuery(unsafeSQL: sql), logger: TestServers.logger).decode(Int.self) { return value }
        return 0
    }
}
