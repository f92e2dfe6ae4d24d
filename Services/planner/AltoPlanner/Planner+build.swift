import AltoAMQP
import AltoCentral
import AltoRuntime
import Logging
import ServiceLifecycle

/// Builds what `alto-planner` runs: a worker on `planner.jobs`, the scheduler of periodic plans, the outbox relay
/// for `tiering.jobs`, and `/healthz` and `/metrics`.
public func buildPlanner(settings: ServiceSettings) async throws -> ServiceGroup {
    let (logger, registry) = ServiceBootstrap.bootstrap(label: settings.serviceName, level: settings.logLevel)
    try await settings.prepareDatabase(logger: logger)
    let postgres = settings.postgres.makeClient(logger: logger)
    let publisher = AMQPPublisher(configuration: settings.amqp, logger: logger)
    let planner = HostPlanner(
        postgres: postgres,
        maximumFilesPerJob: settings.reader.int(forKey: "alto.planner.max.files.per.job", default: 1000),
        minimumFileBytes: Int64(settings.reader.int(forKey: "alto.planner.min.file.bytes", default: 8192)),
        logger: logger)
    let consumer = AMQPConsumer(configuration: settings.amqp, queue: AMQPTopology.plannerJobs, prefetch: 1,
                                declarations: AMQPDeclaration.standard, logger: logger)
    let worker = AMQPQueueWorker(consumer: consumer, publisher: publisher, logger: logger) { delivery in
        await planner.handle(delivery)
    }
    var workers: [any Service] = [worker]
    let scheduleSeconds = settings.reader.int(forKey: "alto.planner.schedule.seconds", default: 3600)
    if scheduleSeconds > 0 {
        workers.append(PlanScheduler(postgres: postgres, interval: .seconds(scheduleSeconds),
                                     pollInterval: .seconds(min(60, scheduleSeconds)), logger: logger))
    }
    return CentralServiceGroup.make(settings: settings, logger: logger, registry: registry, postgres: postgres,
                                    publisher: publisher, workers: workers)
}
