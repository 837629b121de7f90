import Hummingbird
import NIOConcurrencyHelpers
import NIOCore

/// The request context of Loom's routes: Hummingbird's basic context plus the connection
/// the request came on, so a handler can notice when its client goes away.
struct ServerRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    var connection: ClientConnection { ClientConnection(channel: channel) }
}

/// The client side of one HTTP connection, watched for a disconnect.
///
/// A streaming handler notices a vanished client when a write fails. A non-streaming one
/// writes nothing until the answer is complete, so it would decode up to `max_tokens` for
/// nobody. Hummingbird accepts remote half-closure, so a client that closes its socket
/// shows up as an `inputClosed` event (or the channel going inactive), not as an error: a
/// handler placed first in the pipeline sees both and runs the callback once.
struct ClientConnection: Sendable {
    let channel: any Channel

    /// Runs `body` with `onDisconnect` armed: it is called (once, on the event loop) if the
    /// client closes its side or the connection drops before `body` returns.
    func whileWatching<T: Sendable>(
        onDisconnect: @escaping @Sendable () -> Void, _ body: () async throws -> T
    ) async throws -> T {
        let watcher = DisconnectWatcher(onDisconnect)
        // If the watcher cannot be installed (the channel is already closing) the client is
        // gone: report it rather than decode for nobody.
        do {
            try await channel.pipeline.addHandler(watcher, position: .first).get()
        } catch {
            onDisconnect()
        }
        defer {
            watcher.disarm()
            channel.pipeline.removeHandler(watcher, promise: nil)
        }
        return try await body()
    }
}

/// Passes everything through; reports the first sign that the peer has gone.
final class DisconnectWatcher: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny
    private let callback: NIOLockedValueBox<(@Sendable () -> Void)?>

    init(_ callback: @escaping @Sendable () -> Void) {
        self.callback = NIOLockedValueBox(callback)
    }

    /// Stops reporting (the request finished normally).
    func disarm() { callback.withLockedValue { $0 = nil } }

    private func fire() {
        let pending = callback.withLockedValue { value -> (@Sendable () -> Void)? in
            defer { value = nil }
            return value
        }
        pending?()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { fire() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fire()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fire()
        context.fireErrorCaught(error)
    }
}
