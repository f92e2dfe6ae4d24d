import Foundation
import Logging
import Metrics
import Prometheus
import Synchronization

/// Process-wide logging and metrics, set up once before anything logs or counts.
public enum ServiceBootstrap {
    private static let metrics = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Sends logs to standard error as `key=value` lines and installs the Prometheus registry that `/metrics`
    /// serves, its metrics named and described by the ``MetricCatalog``. Safe to call more than once (tests build several services in one process).
    public static func bootstrap(label: String, level: Logger.Level) -> (Logger, PrometheusCollectorRegistry) {
        let registry = metrics.withLock { registry -> PrometheusCollectorRegistry in
            if let registry { return registry }
            let created = PrometheusCollectorRegistry()
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            MetricsSystem.bootstrap(CatalogMetricsFactory(registry: created))
            registry = created
            return created
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return (logger, registry)
    }
}
