import AltoAMQP
import AltoService
import Logging
import ServiceLifecycle

/// Builds what `alto-planner` runs: a worker on `planner.jobs`, the outbox relay for `tiering.jobs`, and
/// `/healthz` and `/metrics`.
func buildPlanner(settings: ServiceSettings) async throws -> ServiceGroup {
    let (logger, registry) = ServiceBootstrap.bootstrap(label: settings.serviceName, level: settings.logLevel)
    try await settings.postgres.migrate(logger: logger)
    let postgres = settings.postgres.makeClient(logger: logger)
    let publisher = AMQPPublisher(configuration: settings.amqp, logger: logger)
    let planner = HostPlanner(
        postgres: postgres,
        maximumFilesPerJob: settings.reader.int(forKey: "alto.planner.max.files.per.job", default: 1000),
        logger: logger)
    let consumer = AMQPConsumer(configuration: settings.amqp, queue: AMQPTopology.plannerJobs, prefetch: 1,
                                declarations: AMQPDeclaration.standard, logger: logger)
    let worker = AMQPQueueWorker(consumer: consumer, publisher: publisher, logger: logger) { delivery in
        await planner.handle(delivery)
    }
    return AltoServiceGroup.make(settings: settings, logger: logger, registry: registry, postgres: postgres,
                                 publisher: publisher, workers: [worker])
}
