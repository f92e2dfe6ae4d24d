import AltoAMQP
import AltoCentral
import AltoKeys
import AltoRuntime
import AltoStore
import Configuration
import Crypto
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import PostgresNIO
import Prometheus
import ServiceLifecycle

/// Builds what `alto-api` runs, so tests run the same thing: migrations first, then the HTTP server, the
/// outbox relay and their clients in one service group.
public func buildAPI(settings: ServiceSettings) async throws -> ServiceGroup {
    let (logger, registry) = ServiceBootstrap.bootstrap(label: settings.serviceName, level: settings.logLevel)
    try await settings.prepareDatabase(logger: logger)
    let postgres = settings.postgres.makeClient(logger: logger)
    let publisher = AMQPPublisher(configuration: settings.amqp, logger: logger)
    let reader = settings.reader
    let hub = NotificationHub()
    let router = try await makeRouter(settings: settings, postgres: postgres, publisher: publisher, keys: try KeyProviders.make(),
                                      registry: registry, hub: hub, logger: logger)
    let follower = NotificationController.follower(settings: settings.amqp, publisher: publisher, hub: hub, logger: logger)
    let app = Application(
        router: router,
        server: try serverBuilder(router: router, reader: reader, logger: logger),
        configuration: .init(address: .hostname(settings.httpHost, port: settings.httpPort), serverName: settings.serviceName),
        onServerRunning: { channel in settings.runtime.announceListening(on: channel, logger: logger) },
        logger: logger
    )
    let relay = OutboxRelay.configured(settings: settings, client: postgres, publisher: publisher, logger: logger)
    return ServiceGroup(configuration: .init(
        services: [postgres, publisher] + relay + [follower, app],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
    ))
}

/// Every route of the API behind the access middleware; `alto-api routes` lists what it built, and the tests send
/// requests to it without a socket.
/// - Parameter keys: seals storage-target credentials and rotates the tenants' keys; nil stores them as given.
func makeRouter(settings: ServiceSettings, postgres: PostgresClient, publisher: AMQPPublisher, keys: (any KeyProvider)?,
                registry: PrometheusCollectorRegistry, hub: NotificationHub, logger: Logger) async throws -> Router<AltoRequestContext> {
    let reader = settings.reader
    let limits = APILimits(
        maximumUploadBytes: reader.int(forKey: "alto.api.max.upload.bytes", default: 64 << 20),
        maximumCSVBytes: reader.int(forKey: "alto.api.max.csv.bytes", default: 1 << 30),
        uploadIdleTimeout: .seconds(max(1, reader.int(forKey: "alto.api.upload.idle.seconds", default: 30))),
        uploadDeadline: .seconds(max(1, reader.int(forKey: "alto.api.upload.seconds", default: 600))),
        uploadsAtOnce: reader.int(forKey: "alto.api.uploads", default: 32),
        uploadsPerHost: reader.int(forKey: "alto.api.uploads.per.host", default: 2),
        spoolFolder: reader.string(forKey: "alto.api.spool.dir", default: NSTemporaryDirectory())
    )
    let sessionKey = try SecretSetting.value(reader, key: "alto.session.key", variable: "ALTO_SESSION_KEY", developmentDefault: nil,
                                             optional: SecretSetting.isDevelopment(reader)) ?? {
        logger.warning("ALTO_SESSION_KEY is not set (development): sessions are signed with a key made at start, so they end when this process does and other replicas reject them")
        return SecretToken.generate(prefix: "")
    }()
    let sessions = await SessionTokens(secret: sessionKey,
                                       lifetime: .seconds(max(60, reader.int(forKey: "alto.session.seconds", default: 900))))
    let authenticator = Authenticator(postgres: postgres, sessions: sessions,
                                      bootstrapToken: try SecretSetting.value(reader, key: "alto.admin.token", variable: "ALTO_ADMIN_TOKEN",
                                                                              developmentDefault: nil, optional: true),
                                      logger: logger)
    let passwords = PasswordHasher(cost: UInt8(clamping: max(4, reader.int(forKey: "alto.bcrypt.cost", default: 12))))
    let scope = TenantScope(postgres: postgres, auditTrail: settings.audit)

    let router = Router(context: AltoRequestContext.self)
    router.middlewares.add(MetricsMiddleware())
    router.middlewares.add(LogRequestsMiddleware(.debug))
    router.middlewares.add(ErrorMiddleware())
    router.middlewares.add(WebUIMiddleware(folder: reader.string(forKey: "alto.ui.dir", default: "web/dist"), logger: logger))
    router.middlewares.add(AccessMiddleware(authenticator: authenticator, auditTrail: settings.audit))
    OperationsRoutes(registry: registry, checks: [OperationsRoutes.postgresCheck(postgres), OperationsRoutes.brokerCheck(publisher)])
        .add(to: router)
    SessionController(postgres: postgres, sessions: sessions, passwords: passwords,
                      throttle: LoginThrottle(limit: max(1, reader.int(forKey: "alto.login.max.failures", default: 10)),
                                              window: .seconds(max(1, reader.int(forKey: "alto.login.window.seconds", default: 300)))),
                      auditTrail: settings.audit).add(to: router)
    ScanUploadController(postgres: postgres, limits: limits).add(to: router)
    HeartbeatController(postgres: postgres, intervalSeconds: settings.agentHeartbeatSeconds).add(to: router)
    AdminController(scope: scope).add(to: router)
    let minimumFileBytes = Int64(reader.int(forKey: "alto.planner.min.file.bytes", default: 8192))
    let accounts = try brokerAccounts(settings: settings, publisher: publisher)
    HostController(scope: scope, accounts: accounts, silentAfterSeconds: settings.agentSilentSeconds).add(to: router)
    BrokerAccountController(accounts: accounts, scope: scope).add(to: router)
    UserController(scope: scope, passwords: passwords).add(to: router)
    APITokenController(scope: scope).add(to: router)
    AuditController(scope: scope).add(to: router)
    AnalyticsController(scope: scope).add(to: router)
    JobController(scope: scope).add(to: router)
    RuleController(scope: scope, minimumFileBytes: minimumFileBytes).add(to: router)
    StorageTargetController(scope: scope, keys: keys).add(to: router)
    KeyController(scope: scope, keys: keys).add(to: router)
    RecallController(scope: scope).add(to: router)
    FindingController(scope: scope, samplePercent: reader.double(forKey: "alto.sanitizer.verify.percent", default: 1)).add(to: router)
    AgentReconciliationController(postgres: postgres).add(to: router)
    NotificationController(hub: hub, authenticator: authenticator,
                           recheck: .seconds(max(1, reader.int(forKey: "alto.api.socket.recheck.seconds", default: 5)))).add(to: router)
    PlanController(scope: scope, minimumFileBytes: minimumFileBytes).add(to: router)
    return router
}

/// The agents' broker accounts, when `ALTO_BROKER_MANAGEMENT_URL` names a broker administrator; agents reach the
/// broker at `ALTO_AGENT_AMQP_URL` (by default the services' own broker address, without its login).
func brokerAccounts(settings: ServiceSettings, publisher: AMQPPublisher) throws -> BrokerAccounts? {
    let management = settings.reader.string(forKey: "alto.broker.management.url", isSecret: true, default: "")
    guard !management.isEmpty else { return nil }
    return try BrokerAccounts(managementURL: management,
                              agentURL: settings.reader.string(forKey: "alto.agent.amqp.url", default: settings.amqp.address),
                              virtualHost: settings.amqp.virtualHost, publisher: publisher)
}

/// HTTP/1.1 with the WebSocket upgrade, behind TLS when `ALTO_TLS_CERTIFICATE` and `ALTO_TLS_KEY` name a PEM
/// certificate chain and its private key; a connection idle for `ALTO_API_IDLE_SECONDS` (120) is closed.
func serverBuilder(router: Router<AltoRequestContext>, reader: ConfigReader, logger: Logger) throws -> HTTPServerBuilder {
    let idle = reader.int(forKey: "alto.api.idle.seconds", default: 120)
    guard idle > 0 else { throw ValidationFailure("ALTO_API_IDLE_SECONDS must be above 0, not \(idle)") }
    let webSocketResponder = router.buildResponder()
    // Hummingbird's idle clock for connections serving requests; a WebSocket's pings, a third of the idle time
    // apart, keep a quiet notification stream open.
    let channel = HTTP1WebSocketUpgradeChannel.Configuration(http1: .init(idleTimeout: .seconds(Int64(idle))),
                                                             ws: .init(autoPing: .enabled(timePeriod: .milliseconds(Int64(idle) * 1000 / 3))))
    let plain = HTTPServerBuilder { responder in
        IdleBoundedChannel(base: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: channel),
                           idleTimeout: .seconds(Int64(idle)))
    }
    let certificate = reader.string(forKey: "alto.tls.certificate", default: "")
    let key = reader.string(forKey: "alto.tls.key", default: "")
    guard !certificate.isEmpty || !key.isEmpty else { return plain }
    guard !certificate.isEmpty, !key.isEmpty else {
        throw ValidationFailure("ALTO_TLS_CERTIFICATE and ALTO_TLS_KEY go together: give both, or neither for plain HTTP")
    }
    let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
    var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain,
                                                       privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
    tls.minimumTLSVersion = .tlsv12
    logger.info("serving HTTPS", metadata: ["certificate": "\(certificate)"])
    return try .tls(plain, tlsConfiguration: tls)
}

/// A configuration that cannot work, said at start-up.
struct ValidationFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Limits the API enforces on uploads.
struct APILimits: Sendable {
    /// Compressed bytes one upload may send.
    var maximumUploadBytes: Int
    /// CSV bytes one upload may expand to.
    var maximumCSVBytes: Int
    /// The longest a client may send nothing in the middle of a body.
    var uploadIdleTimeout: Duration = .seconds(30)
    /// The longest one upload may take.
    var uploadDeadline: Duration = .seconds(600)
    /// Uploads one process receives at once, and uploads one host may send at once.
    var uploadsAtOnce = 32
    var uploadsPerHost = 2
    /// Where uploads are written while they arrive.
    var spoolFolder = NSTemporaryDirectory()

    var tooLarge: APIError {
        APIError(.contentTooLarge, "too_large", "a batch may be at most \(maximumUploadBytes) bytes; cut smaller batches")
    }
}
