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
    let relay = OutboxRelay(client: postgres, publisher: publisher, logger: logger)
    let operations = OperationsServer.make(
        settings: settings, routes: OperationsRoutes(registry: registry, checks: [OperationsRoutes.postgresCheck(postgres)]),
        logger: logger)
    return ServiceGroup(configuration: .init(
        services: [postgres, publisher, relay, worker, operations],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
    ))
}
