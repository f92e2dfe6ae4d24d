import AltoAMQP
import AltoRuntime
import Logging
import PostgresNIO
import Prometheus
import ServiceLifecycle

/// The service group of a central Alto service: its database client and publisher first, the outbox relay, its own
/// workers, and last the `/healthz` and `/metrics` server, so SIGTERM stops them in the reverse order.
public enum CentralServiceGroup {
    /// `ALTO_OUTBOX_RELAY=false` leaves publishing to other replicas (or holds it back while an operator looks at the
    /// outbox); the service still writes its messages there.
    public static func make(settings: ServiceSettings, logger: Logger, registry: PrometheusCollectorRegistry,
                            postgres: PostgresClient, publisher: AMQPPublisher?, workers: [any Service]) -> ServiceGroup {
        var services: [any Service] = [postgres]
        if let publisher {
            services.append(publisher)
            services += OutboxRelay.configured(settings: settings, client: postgres, publisher: publisher, logger: logger)
        }
        services += workers
        let checks = [OperationsRoutes.postgresCheck(postgres)] + (publisher.map { [OperationsRoutes.brokerCheck($0)] } ?? [])
        services.append(OperationsServer.make(settings: settings.runtime, routes: OperationsRoutes(registry: registry, checks: checks),
                                              logger: logger))
        return ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    }
}
