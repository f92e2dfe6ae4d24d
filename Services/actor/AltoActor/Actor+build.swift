import AltoAMQP
import AltoCentral
import AltoRuntime
import Logging
import ServiceLifecycle

/// Builds what `alto-actor` runs: one worker dispatching `tiering.jobs`, one recording `agent.results`, the sweeper
/// that holds and re-dispatches jobs, the outbox relay, and `/healthz` and `/metrics`.
public func buildActor(settings: ServiceSettings) async throws -> ServiceGroup {
    let (logger, registry) = ServiceBootstrap.bootstrap(label: settings.serviceName, level: settings.logLevel)
    try await settings.prepareDatabase(logger: logger)
    let postgres = settings.postgres.makeClient(logger: logger)
    let publisher = AMQPPublisher(configuration: settings.amqp, logger: logger)
    let reader = settings.reader
    let gate = DispatchGate(hostLimit: max(1, reader.int(forKey: "alto.actor.host.concurrent.jobs", default: 2)))
    let jobs = TieringJobStore(retryDelay: .seconds(max(1, reader.int(forKey: "alto.actor.retry.seconds", default: 300))))
    let dispatcher = JobDispatcher(postgres: postgres, publisher: publisher, jobs: jobs, gate: gate, logger: logger)
    let recorder = ResultRecorder(postgres: postgres, jobs: jobs, auditTrail: settings.audit, centralLogin: settings.amqp.user,
                                  logger: logger)
    let sweeper = JobSweeper(postgres: postgres, jobs: jobs, gate: gate,
                             agentTimeout: .seconds(max(1, reader.int(forKey: "alto.actor.agent.timeout.seconds", default: 180))),
                             quietTimeout: .seconds(max(1, reader.int(forKey: "alto.actor.job.quiet.seconds", default: 3600))),
                             pollInterval: .seconds(max(1, reader.int(forKey: "alto.actor.sweep.seconds", default: 10))),
                             logger: logger)
    let dispatching = AMQPQueueWorker(
        consumer: AMQPConsumer(configuration: settings.amqp, queue: AMQPTopology.tieringJobs, prefetch: 8,
                               declarations: AMQPDeclaration.standard, logger: logger),
        publisher: publisher, logger: logger
    ) { delivery in await dispatcher.handle(delivery) }
    let recording = AMQPQueueWorker(
        consumer: AMQPConsumer(configuration: settings.amqp, queue: AMQPTopology.agentResults, prefetch: 8,
                               declarations: AMQPDeclaration.standard, logger: logger),
        publisher: publisher, logger: logger
    ) { delivery in await recorder.handle(delivery) }
    return CentralServiceGroup.make(settings: settings, logger: logger, registry: registry, postgres: postgres,
                                    publisher: publisher, workers: [dispatching, recording, sweeper])
}
