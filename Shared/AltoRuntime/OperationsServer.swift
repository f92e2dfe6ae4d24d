import Hummingbird
import Logging

/// The small HTTP server of a service that has no API of its own: only `/healthz` and `/metrics`.
public enum OperationsServer {
    public static func make(settings: RuntimeSettings, routes: OperationsRoutes, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.middlewares.add(MetricsMiddleware())
        routes.add(to: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(settings.httpHost, port: settings.httpPort), serverName: settings.serviceName),
            onServerRunning: { channel in settings.announceListening(on: channel, logger: logger) },
            logger: logger
        )
    }
}
