import AltoAMQP
import AltoCentral
import AltoRuntime
import Logging
import ServiceLifecycle

/// Builds what `alto-ingest` runs: migrations, then a worker on `ingest.jobs`, the outbox relay that sends
/// planner triggers, and `/healthz` and `/metrics`.
public func buildIngest(settings: ServiceSettings) async throws -> ServiceGroup {
    let (logger, registry) = ServiceBootstrap.bootstrap(label: settings.serviceName, level: settings.logLevel)
    try await settings.prepareDatabase(logger: logger)
    let postgres = settings.postgres.makeClient(logger: logger)
    let publisher = AMQPPublisher(configuration: settings.amqp, logger: logger)
    let ingester = BatchIngester(postgres: postgres, logger: logger)
    // Two batches at once by default: while one is parsed and copied into staging, the other's upsert keeps
    // PostgreSQL busy, which uses both cores of a small machine.
    let concurrency = max(1, settings.reader.int(forKey: "alto.ingest.concurrency", default: 2))
    let consumer = AMQPConsumer(configuration: settings.amqp, queue: AMQPTopology.ingestJobs, prefetch: UInt16(concurrency),
                                declarations: AMQPDeclaration.standard, logger: logger)
    let worker = AMQPQueueWorker(consumer: consumer, publisher: publisher, concurrency: concurrency, logger: logger) { delivery in
        await ingester.handle(delivery)
    }
    return CentralServiceGroup.make(settings: settings, logger: logger, registry: registry, postgres: postgres,
                                    publisher: publisher, workers: [worker])
}
