import AltoAMQP
import Foundation
import Hummingbird
import Logging
import Prometheus

/// `/healthz` and `/metrics`, which every service serves for its orchestrator and its Prometheus.
public struct OperationsRoutes: Sendable {
    public typealias Check = @Sendable () async throws -> Void

    private let registry: PrometheusCollectorRegistry
    private let checks: [(String, Check)]

    /// - Parameter checks: named dependencies that must answer for the service to be healthy.
    public init(registry: PrometheusCollectorRegistry, checks: [(String, Check)]) {
        self.registry = registry
        self.checks = checks
    }

    /// A check that the broker takes requests on the publisher's connection.
    public static func brokerCheck(_ publisher: AMQPPublisher) -> (String, Check) {
        ("rabbitmq", { try await publisher.declare([]) })
    }

    public func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("/healthz") { _, _ -> Response in
            var failures: [String: String] = [:]
            for (name, check) in checks {
                do {
                    try await withTimeout(.seconds(2)) { try await check() }
                } catch {
                    failures[name] = String(describing: error)
                }
            }
            let status: HTTPResponse.Status = failures.isEmpty ? .ok : .serviceUnavailable
            let body: [String: String] = failures.isEmpty ? ["status": "ok"] : failures.merging(["status": "unavailable"]) { a, _ in a }
            return try JSONResponse.make(status: status, body)
        }
        router.get("/metrics") { _, _ -> Response in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(4096)
            registry.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
    }
}

private func withTimeout(_ duration: Duration, _ body: @escaping @Sendable () async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: duration)
            throw CancellationError()
        }
        try await group.next()
        group.cancelAll()
    }
}
