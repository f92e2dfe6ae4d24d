import AltoAMQP
import AltoService
import AltoStore
import Hummingbird
import Logging
import ServiceLifecycle

/// Builds what `alto-api` runs, so tests run the same thing: migrations first, then the HTTP server, the
/// outbox relay and their clients in one service group.
func buildAPI(settings: ServiceSettings) async throws -> ServiceGroup {
    let (logger, registry) = ServiceBootstrap.bootstrap(label: settings.serviceName, level: settings.logLevel)
    try await settings.postgres.migrate(logger: logger)
    let postgres = settings.postgres.makeClient(logger: logger)
    let publisher = AMQPPublisher(configuration: settings.amqp, logger: logger)
    let limits = APILimits(
        maximumUploadBytes: settings.reader.int(forKey: "alto.api.max.upload.bytes", default: 64 << 20),
        maximumCSVBytes: settings.reader.int(forKey: "alto.api.max.csv.bytes", default: 1 << 30),
        adminToken: settings.reader.string(forKey: "alto.admin.token", isSecret: true, default: "alto-dev-admin")
    )
    let router = Router(context: BasicRequestContext.self)
    router.middlewares.add(LogRequestsMiddleware(.debug))
    OperationsRoutes(registry: registry, checks: [OperationsRoutes.postgresCheck(postgres), OperationsRoutes.brokerCheck(publisher)])
        .add(to: router)
    ScanUploadController(postgres: postgres, limits: limits, logger: logger).add(to: router)
    HeartbeatController(postgres: postgres,
                        intervalSeconds: max(5, settings.reader.int(forKey: "alto.agent.heartbeat.seconds", default: 60)),
                        logger: logger).add(to: router)
    let scope = TenantScope(postgres: postgres, adminToken: limits.adminToken, logger: logger)
    AdminController(scope: scope).add(to: router)
    RuleController(scope: scope).add(to: router)
    StorageTargetController(scope: scope).add(to: router)
    RecallController(scope: scope).add(to: router)
    PlanController(scope: scope, minimumFileBytes: Int64(settings.reader.int(forKey: "alto.planner.min.file.bytes", default: 8192)))
        .add(to: router)
    let app = Application(
        router: router,
        configuration: .init(address: .hostname(settings.httpHost, port: settings.httpPort), serverName: settings.serviceName),
        logger: logger
    )
    // As in every central service, ALTO_OUTBOX_RELAY=false leaves publishing to other replicas.
    let relay: [any Service] = settings.reader.bool(forKey: "alto.outbox.relay", default: true)
        ? [OutboxRelay(client: postgres, publisher: publisher, logger: logger)] : []
    return ServiceGroup(configuration: .init(
        services: [postgres, publisher] + relay + [app],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
    ))
}

/// Limits and credentials the API enforces.
struct APILimits: Sendable {
    /// Compressed bytes one upload may send.
    var maximumUploadBytes: Int
    /// CSV bytes one upload may expand to.
    var maximumCSVBytes: Int
    /// Guards the admin routes until users and roles exist.
    var adminToken: String
}
