import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The API's request context: the core storage, the caller the access middleware found, and the tenant the
/// request acts for. Handlers take both from here and never from headers of their own.
struct AltoRequestContext: RequestContext, WebSocketRequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    let remoteAddress: SocketAddress?
    /// Set by `AccessMiddleware` on every route that is not open.
    var principal: Principal?
    /// The tenant: the principal's own, or, for a super admin, the one `X-Alto-Customer-Id` names.
    var customerID: UUID?

    init(source: Source) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.remoteAddress = source.channel.remoteAddress
    }

    /// Request bodies the API reads whole are JSON documents of a few KiB; uploads stream past this.
    var maxUploadSize: Int { 1 << 20 }

    /// The caller; a route that is not open always has one.
    func caller() throws -> Principal {
        guard let principal else { throw APIError.unauthorized }
        return principal
    }

    /// The tenant the request acts for; a super admin must name one.
    func tenant() throws -> UUID {
        guard let customerID else {
            throw APIError(.badRequest, "missing_tenant", "the X-Alto-Customer-Id header must name the customer",
                           field: "X-Alto-Customer-Id")
        }
        return customerID
    }

    /// The host of the agent making the request. Naming any other host, the tenant's or not, is a 404, so an
    /// agent's token learns nothing about other hosts.
    func agentHost(named hostID: UUID?) throws -> UUID {
        guard let own = try caller().hostID else {
            throw APIError(.forbidden, "forbidden", "only a host's agent may do this")
        }
        if let hostID, hostID != own {
            throw APIError(.notFound, "not_found", "host \(hostID) is not this agent's host")
        }
        return own
    }
}
