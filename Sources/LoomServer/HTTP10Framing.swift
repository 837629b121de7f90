import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// Answers HTTP/1.0 requests as HTTP/1.0 (RFC 9112 §6.1, §9.3): never a chunked body, which
/// a 1.0 client cannot read, and the connection closed after the answer unless the client
/// asked for `Connection: keep-alive` and the answer has a Content-Length. A streamed answer
/// to a 1.0 client is then delimited by the close, as the RFC prescribes.
///
/// It must sit where the HTTP version is still known: between NIO's HTTP/1 handlers and the
/// HTTP-types codec (which answers every request as 1.1). ``ConnectionGuard`` inserts it there
/// when it is added to a connection.
final class HTTP10Framing: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Versions and keep-alive wishes of requests whose answers are still to come, in order
    /// (HTTP/1.1 pipelining answers in request order).
    private var pending: [(version: HTTPVersion, keepAlive: Bool)] = []
    private var closeAfterAnswer = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            pending.append((head.version, head.isKeepAlive))
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head):
            // Interim (1xx) answers come before the final one for the same request.
            guard head.status.code >= 200, !pending.isEmpty else { return context.write(data, promise: promise) }
            let request = pending.removeFirst()
            guard request.version.major == 1, request.version.minor == 0 else {
                closeAfterAnswer = false
                return context.write(data, promise: promise)
            }
            head.version = .http1_0
            let framed = head.headers["content-length"].first != nil
            closeAfterAnswer = !(request.keepAlive && framed)
            head.headers.remove(name: "transfer-encoding")
            head.headers.replaceOrAdd(name: "connection", value: closeAfterAnswer ? "close" : "keep-alive")
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            guard closeAfterAnswer else { return context.write(data, promise: promise) }
            closeAfterAnswer = false
            let written = promise ?? context.eventLoop.makePromise()
            context.writeAndFlush(data, promise: written)
            written.futureResult.whenComplete { _ in context.close(promise: nil) }
        }
    }
}
