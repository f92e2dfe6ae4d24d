import AltoAMQP
import AltoCentral
import AltoRuntime
import Logging
import ServiceLifecycle

/// Builds what `alto-sanitizer` runs: the reconciliation schedule, the merger of reported runs on `sanitizer.jobs`,
/// the fleet's gauges (`FleetGauges`, every `ALTO_FLEET_GAUGES_SECONDS`, 30), the outbox relay for the agents'
/// `reconcile.target` commands, and `/healthz` and `/metrics`.
public func buildSanitizer(settings: ServiceSettings) async throws -> ServiceGroup {
    let (logger, registry) = ServiceBootstrap.bootstrap(label: settings.serviceName, level: settings.logLevel)
    try await settings.prepareDatabase(logger: logger)
    let postgres = settings.postgres.makeClient(logger: logger)
    let publisher = AMQPPublisher(configuration: settings.amqp, logger: logger)
    let merger = ReconciliationMerger(postgres: postgres, auditTrail: settings.audit,
                                      orphanMinimumAge: .seconds(settings.reader.int(forKey: "alto.sanitizer.orphan.min.age.seconds", default: 3600)),
                                      logger: logger)
    let consumer = AMQPConsumer(configuration: settings.amqp, queue: AMQPTopology.sanitizerJobs, prefetch: 1,
                                declarations: AMQPDeclaration.standard, logger: logger)
    let worker = AMQPQueueWorker(consumer: consumer, publisher: publisher, logger: logger) { delivery in
        await merger.handle(delivery)
    }
    var workers: [any Service] = [worker]
    let gaugeSeconds = settings.reader.int(forKey: "alto.fleet.gauges.seconds", default: 30)
    if gaugeSeconds > 0 {
        workers.append(FleetGauges(postgres: postgres, publisher: publisher, interval: .seconds(gaugeSeconds),
                                   silentAfterSeconds: settings.agentSilentSeconds, logger: logger))
    }
    let interval = settings.reader.int(forKey: "alto.sanitizer.interval.seconds", default: 3600)
    if interval > 0 {
        workers.append(ReconciliationScheduler(postgres: postgres, interval: .seconds(interval),
                                               samplePercent: settings.reader.double(forKey: "alto.sanitizer.verify.percent", default: 1),
                                               stagingRetentionDays: settings.reader.int(forKey: "alto.staging.retention.days", default: 7),
                                               logger: logger))
    }
    return CentralServiceGroup.make(settings: settings, logger: logger, registry: registry, postgres: postgres,
                                    publisher: publisher, workers: workers)
}
