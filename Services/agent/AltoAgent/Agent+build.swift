import AltoAMQP
import AltoKeys
import AltoRuntime
import AltoTiering
import Foundation
import Logging
import ServiceLifecycle

/// Builds what `alto-agent run` runs: a worker on the host's own `agent.<customer_id>.<host_id>` queue (tiering jobs one at a
/// time beside recall jobs, which never wait behind them, and reconciliations), on-access recall through the stub guard, scheduled
/// scans with their uploads, heartbeats, and `/healthz` and `/metrics`. The agent needs no database.
public func buildAgent(settings: AgentSettings) async throws -> ServiceGroup {
    let (logger, registry) = ServiceBootstrap.bootstrap(label: "alto-agent", level: settings.runtime.logLevel)
    let publisher = AMQPPublisher(configuration: settings.broker, logger: logger)
    let queue = AMQPTopology.agentQueue(customerID: settings.customerID.uuidString, hostID: settings.hostID.uuidString)
    let configurationStore = AgentConfigurationStore(folder: settings.stateFolder)
    let catalog = TargetCatalog(folder: settings.stateFolder, keys: try KeyProviders.make(defaultFolder: settings.keyFolder), customerID: settings.customerID)
    let reporter = ResultReporter(publisher: publisher, spool: ResultSpool(folder: settings.resultsFolder), customerID: settings.customerID,
                                  hostID: settings.hostID, logger: logger)
    let security = SecurityReporter(reporter: reporter, logger: logger)
    let coordinator = RecallCoordinator(catalog: catalog, throttle: RecallThrottle(concurrency: settings.recallConcurrency,
                                                                                  perSecond: settings.recallsPerSecond),
                                        security: security, logger: logger)
    let executor = TieringExecutor(settings: settings, configurationStore: configurationStore, catalog: catalog,
                                   coordinator: coordinator, reporter: reporter, logger: logger)
    let handler = AgentCommandHandler(settings: settings, configurationStore: configurationStore, executor: executor,
                                      coordinator: coordinator, journal: JobJournal(folder: settings.journalFolder),
                                      reporter: reporter, reconciler: TargetReconciler(settings: settings, catalog: catalog, logger: logger),
                                      logger: logger)
    let scans = ScheduledScanService(settings: settings, configurationStore: configurationStore, logger: logger)
    let heartbeats = HeartbeatService(settings: settings, configurationStore: configurationStore, logger: logger)
    let worker = AMQPQueueWorker(
        // The host's account may declare nothing: the API declared its queue when it issued the account.
        consumer: AMQPConsumer(configuration: settings.broker, queue: queue, prefetch: 3, declarations: [], logger: logger),
        publisher: publisher, concurrency: 3, deadLetters: .byBroker, logger: logger
    ) { delivery in await handler.handle(delivery) }
    let accounts: [any Service] = settings.brokerAccount.map { [BrokerAccountService(settings: settings, account: $0, logger: logger)] } ?? []
    let link = GuardLink(socketPath: settings.guardSocket,
                         launcher: settings.startGuard ? StubGuardLauncher(settings: settings, logger: logger) : nil, logger: logger)
    let onAccess = OnAccessRecallService(link: link, coordinator: coordinator, reporter: reporter, security: security, logger: logger)
    if !settings.unguardedStubs {
        OnAccessWatch.requireGroup()
    } else {
        logger.warning("ALTO_AGENT_UNGUARDED_STUBS is set: stubs are made where no guard watches, and read there as zeros")
    }
    let operations = OperationsServer.make(settings: settings.runtime, routes: OperationsRoutes(registry: registry, checks: [OperationsRoutes.brokerCheck(publisher)]),
                                           logger: logger)
    return ServiceGroup(configuration: .init(
        services: accounts + [publisher, reporter, onAccess, worker, scans, heartbeats, operations],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
    ))
}
