import AltoAMQP
import Hummingbird
import Logging
import PostgresNIO
import Prometheus
import ServiceLifecycle

/// The service group of a central Alto service: its database client and publisher first, the outbox relay, its own
/// workers, and last the `/healthz` and `/metrics` server, so SIGTERM stops them in the reverse order.
public enum AltoServiceGroup {
    public static func make(settings: ServiceSettings, logger: Logger, registry: PrometheusCollectorRegistry,
                            postgres: PostgresClient, publisher: AMQPPublisher?, workers: [any Service]) -> ServiceGroup {
        var services: [any Service] = [postgres]
        if let publisher {
            services += [publisher, OutboxRelay(client: postgres, publisher: publisher, logger: logger)]
        }
        services += workers
        let checks = [OperationsRoutes.postgresCheck(postgres)] + (publisher.map { [OperationsRoutes.brokerCheck($0)] } ?? [])
        services.append(OperationsServer.make(settings: settings, routes: OperationsRoutes(registry: registry, checks: checks),
                                              logger: logger))
        return ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    }
}
