import CoreMetrics
import Prometheus

/// The swift-metrics backend of every Alto process: Prometheus collectors named, described and bucketed by the
/// ``MetricCatalog``, where swift-prometheus's own factory registers every metric without HELP text.
struct CatalogMetricsFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry

    /// Metrics under a label the catalog does not know keep it, with no HELP line; `promtool check metrics` in the
    /// tests says so.
    private func described(_ label: String, _ dimensions: [(String, String)]) -> (MetricCatalog.Entry, [(String, String)]) {
        let entry = MetricCatalog.entries[label] ?? MetricCatalog.Entry(label, "")
        return (entry, dimensions.map { name, value in
            let renamed = MetricCatalog.labelNames[name] ?? name
            // A client may send any method; one series for each would be a series per attacker's whim.
            return (renamed, renamed == "method" && !MetricCatalog.httpMethods.contains(value) ? "other" : value)
        })
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        let (entry, labels) = described(label, dimensions)
        return registry.makeCounter(descriptor: entry.descriptor, labels: labels)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        let (entry, labels) = described(label, dimensions)
        return registry.makeCounter(descriptor: entry.descriptor, labels: labels)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        let (entry, labels) = described(label, dimensions)
        return registry.makeGauge(descriptor: entry.descriptor, labels: labels)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        let (entry, labels) = described(label, dimensions)
        return registry.makeGauge(descriptor: entry.descriptor, labels: labels)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let (entry, labels) = described(label, dimensions)
        let buckets = entry.buckets ?? [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                                        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10)]
        return registry.makeDurationHistogram(descriptor: entry.descriptor, labels: labels, buckets: buckets)
    }

    func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}

extension MetricCatalog.Entry {
    /// The name already carries its unit, so the descriptor adds none.
    var descriptor: MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
