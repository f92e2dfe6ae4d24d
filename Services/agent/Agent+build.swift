import AltoAMQP
import AltoService
import Logging
import ServiceLifecycle

/// Builds what `alto-agent run` runs: a worker on the host's own `agent.<host_id>` queue, its publisher for
/// results, scheduled scans with their uploads, heartbeats, and `/healthz` and `/metrics`. The agent needs no database.
func buildAgent(settings: AgentSettings) async throws -> ServiceGroup {
    let (logger, registry) = ServiceBootstrap.bootstrap(label: "alto-agent", level: settings.service.logLevel)
    let publisher = AMQPPublisher(configuration: settings.service.amqp, logger: logger)
    let queue = AMQPTopology.agentQueue(hostID: settings.hostID.uuidString)
    let configurationStore = AgentConfigurationStore(folder: settings.stateFolder)
    let handler = AgentCommandHandler(settings: settings, publisher: publisher, configurationStore: configurationStore, logger: logger)
    let scans = ScheduledScanService(settings: settings, configurationStore: configurationStore, logger: logger)
    let heartbeats = HeartbeatService(settings: settings, configurationStore: configurationStore, logger: logger)
    let worker = AMQPQueueWorker(
        consumer: AMQPConsumer(configuration: settings.service.amqp, queue: queue, prefetch: 1,
                               declarations: AMQPDeclaration.standard + [.workQueue(queue)], logger: logger),
        publisher: publisher, logger: logger
    ) { delivery in await handler.handle(delivery) }
    let operations = OperationsServer.make(settings: settings.service, routes: OperationsRoutes(registry: registry, checks: [OperationsRoutes.brokerCheck(publisher)]),
                                           logger: logger)
    return ServiceGroup(configuration: .init(
        services: [publisher, worker, scans, heartbeats, operations],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
    ))
}
