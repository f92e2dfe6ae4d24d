import Hummingbird
import Logging

/// The small HTTP server of a service that has no API of its own: only `/healthz` and `/metrics`.
public enum OperationsServer {
    public static func make(settings: ServiceSettings, routes: OperationsRoutes, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        routes.add(to: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(settings.httpHost, port: settings.httpPort), serverName: settings.serviceName),
            logger: logger
        )
    }
}
