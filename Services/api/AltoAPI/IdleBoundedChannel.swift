import HummingbirdCore
import Logging
import NIOCore

/// Closes a connection on which nothing was read or written for `idleTimeout`, from its first byte on.
///
/// The HTTP/1 channel with the WebSocket upgrade starts its own idle clock only once a request's head has been
/// parsed, so a client that connects and sends nothing, or a head the parser refuses (a NUL in a header), would
/// hold its socket for as long as it likes: enough of them and the API stops accepting logins. WebSockets stay
/// open through their pings.
struct IdleBoundedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let idleTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandlers([IdleStateHandler(allTimeout: idleTimeout), IdleCloser()], position: .first)
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Closes an idle channel that Hummingbird's HTTP handling has not taken over: before its first request head, after
/// a head the parser refused, or once upgraded to a WebSocket. Once a request is being served, Hummingbird's own
/// idle clock decides, because it knows whether a response is still being worked on; a silent socket does not.
final class IdleCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let idle = event as? IdleStateHandler.IdleStateEvent, idle == .all else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        guard (try? context.pipeline.syncOperations.context(handlerType: HTTPConnectionStateHandler.self)) == nil else { return }
        // Through the whole pipeline, so TLS says goodbye properly.
        context.channel.close(promise: nil)
    }
}
