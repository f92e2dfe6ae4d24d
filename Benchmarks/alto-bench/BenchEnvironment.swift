import AsyncHTTPClient
import Foundation
import NIOCore

/// What one benchmark run needs of the servers of scripts/local-servers.sh, to itself: a database (and RabbitMQ
/// vhost, when `rabbitmqctl` is known) created for the run, Alto's services started against them as separate
/// processes, and the admin calls that set a tenant up. ``close()`` stops the services and drops it all.
final class BenchEnvironment {
    let work: String
    let server: Psql
    let database: Psql
    /// The environment every service of the run gets.
    let common: [String: String]
    let keepWork: Bool
    private let suffix: String
    private let rabbitmqctl: String?
    /// Secrets of this run's own: the services refuse known ones.
    private let adminToken = UUID().uuidString + UUID().uuidString
    private(set) var services: [MeasuredProcess] = []

    init(name: String, postgresURL: String, amqpURL: String, rabbitmqctl: String?, keepWork: Bool) throws {
        suffix = String(UUID().uuidString.lowercased().prefix(8))
        work = FileManager.default.temporaryDirectory.path + "/alto-bench-\(name)-" + suffix
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        server = Psql(url: postgresURL)
        database = server.database("alto_bench_" + suffix)
        try server.run("CREATE DATABASE alto_bench_\(suffix)")
        var vhostURL = amqpURL
        if let rabbitmqctl {
            _ = try Psql.capture(["sh", "-c", "\(rabbitmqctl) add_vhost alto_bench_\(suffix) && \(rabbitmqctl) set_permissions -p alto_bench_\(suffix) guest '.*' '.*' '.*'"])
            if var components = URLComponents(string: amqpURL) {
                components.path = "/alto_bench_\(suffix)"
                vhostURL = components.string ?? amqpURL
            }
        }
        self.rabbitmqctl = rabbitmqctl
        self.keepWork = keepWork
        common = ["ALTO_POSTGRES_URL": database.asServices().url, "ALTO_POSTGRES_MIGRATION_URL": database.url, "ALTO_AMQP_URL": vhostURL, "ALTO_LOG_LEVEL": keepWork ? "info" : "warning",
                  "ALTO_ADMIN_TOKEN": adminToken, "ALTO_AUDIT_KEY": UUID().uuidString + UUID().uuidString,
                  "ALTO_SESSION_KEY": UUID().uuidString + UUID().uuidString]
        try migrate(database)
    }

    /// Another database on the same server, with Alto's schema, dropped by ``close()``.
    func extraDatabase(_ name: String) throws -> Psql {
        try server.run("CREATE DATABASE alto_bench_\(name)_\(suffix)")
        let extra = server.database("alto_bench_\(name)_\(suffix)")
        try migrate(extra)
        return extra
    }

    private func migrate(_ database: Psql) throws {
        _ = try MeasuredProcess.run(AltoBench.binaries + "/alto-api", ["migrate"],
                                    environment: common.merging(["ALTO_POSTGRES_URL": database.asServices().url,
                                                                 "ALTO_POSTGRES_MIGRATION_URL": database.url]) { _, new in new },
                                    output: work + "/migrate.log")
    }

    /// Starts `executable` (one of Alto's, beside this one) on a port the kernel picks, waits until its /healthz
    /// answers, and returns it with the port.
    @discardableResult
    func start(_ executable: String, environment: [String: String] = [:]) async throws -> (process: MeasuredProcess, port: Int) {
        let name = "\(executable)-\(services.count + 1)"
        let portFile = work + "/\(name).port"
        let service = try MeasuredProcess(AltoBench.binaries + "/" + executable, [],
                                          environment: common.merging(environment) { _, new in new }
                                              .merging(["ALTO_HTTP_PORT": "0", "ALTO_HTTP_PORT_FILE": portFile]) { _, new in new },
                                          output: work + "/\(name).log")
        services.append(service)
        return (service, try await waitForHealth(portFile: portFile, of: service, name: name))
    }

    func close() {
        for service in services { _ = service.terminate() }
        services = []
        for name in (try? server.run("SELECT datname FROM pg_database WHERE datname LIKE 'alto_bench_%\(suffix)'"))?
            .split(separator: "\n") ?? [] {
            _ = try? server.run("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        }
        if let rabbitmqctl { _ = try? Psql.capture(["sh", "-c", "\(rabbitmqctl) delete_vhost alto_bench_\(suffix)"]) }
        if keepWork { print("logs and data kept in \(work)") } else { try? FileManager.default.removeItem(atPath: work) }
    }

    /// A customer and one enrolled host, through the API on `apiPort`.
    func enrol(apiPort: Int) async throws -> (customerID: UUID, hostID: UUID, agentToken: String) {
        struct Created: Decodable { var id: UUID }
        struct Host: Decodable {
            var id: UUID
            var agentToken: String
            enum CodingKeys: String, CodingKey {
                case id
                case agentToken = "agent_token"
            }
        }
        let customer: Created = try await post(apiPort: apiPort, "/api/v1/customers", body: ["name": "bench"])
        let host: Host = try await post(apiPort: apiPort, "/api/v1/customers/\(customer.id.uuidString.lowercased())/hosts",
                                        body: ["hostname": "fileserver"])
        return (customer.id, host.id, host.agentToken)
    }

    /// An admin call; `customer` sets the tenant header of the tenant-scoped routes.
    func post<Answer: Decodable>(apiPort: Int, _ path: String, body: some Encodable, customer: UUID? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(apiPort)" + path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(adminToken)")
        request.headers.add(name: "Content-Type", value: "application/json")
        if let customer { request.headers.add(name: "X-Alto-Customer-Id", value: customer.uuidString) }
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 1 << 20)
        guard response.status.code < 300 else { throw BenchError("\(path) answered \(response.status.code): \(String(buffer: data))") }
        return try JSONDecoder().decode(Answer.self, from: Data(data.readableBytesView))
    }

    /// An admin GET of a tenant's route, answering the body.
    func get(apiPort: Int, _ path: String, customer: UUID) async throws -> String {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(apiPort)" + path)
        request.headers.add(name: "Authorization", value: "Bearer \(adminToken)")
        request.headers.add(name: "X-Alto-Customer-Id", value: customer.uuidString)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(600))
        let body = try await response.body.collect(upTo: 16 << 20)
        guard response.status.code == 200 else { throw BenchError("\(path) answered \(response.status.code): \(String(buffer: body))") }
        return String(buffer: body)
    }

    /// Waits until the service has written the port it listens on and answers /healthz there.
    private func waitForHealth(portFile: String, of service: MeasuredProcess, name: String) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            guard service.isRunning else { throw BenchError("\(name) exited while starting; see \(work)/\(name).log") }
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz")
                if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)), response.status == .ok { return port }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw BenchError("\(name) did not become healthy; see \(work)/\(name).log")
    }
}
