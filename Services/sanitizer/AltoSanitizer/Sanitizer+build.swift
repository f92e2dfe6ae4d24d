import AltoCentral
import AltoRuntime
import Logging
import ServiceLifecycle

/// Builds what `alto-sanitizer` runs: the reconciliation schedule and `/healthz` and `/metrics`.
public func buildSanitizer(settings: ServiceSettings) async throws -> ServiceGroup {
    let (logger, registry) = ServiceBootstrap.bootstrap(label: settings.serviceName, level: settings.logLevel)
    try await settings.prepareDatabase(logger: logger)
    let postgres = settings.postgres.makeClient(logger: logger)
    let reconciler = Reconciler(
        postgres: postgres,
        interval: .seconds(settings.reader.int(forKey: "alto.sanitizer.interval.seconds", default: 300)),
        stagingRetentionDays: settings.reader.int(forKey: "alto.staging.retention.days", default: 7),
        auditTrail: settings.audit, logger: logger)
    return CentralServiceGroup.make(settings: settings, logger: logger, registry: registry, postgres: postgres,
                                    publisher: nil, workers: [reconciler])
}
