import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Per-connection protection placed right after the HTTP/1 decoder (Hummingbird's
/// `additionalChannelHandlers`), for what happens before or beside a route:
///
/// - **Framing errors get an answer in the server's error shape.** A garbage request line or
///   bad head is a JSON 400, a head over the decoder's limit a JSON 431 (RFC 6585 §5), both
///   with `Connection: close`. Hummingbird alone answers these with an empty 400. A broken
///   body (a bad chunk size) is passed on to the route reading it, where ``ErrorMiddleware``
///   turns it into a JSON 400.
/// - **Read timeouts (slowloris).** A connection must deliver a complete head within
///   `headerTimeout` of opening or of its previous answer (so this is also the keep-alive
///   idle time), else it is closed. A body may not go silent for longer than `bodyTimeout`:
///   then the route reading it gets ``RequestBodyTimeout`` (a JSON 408), and the connection
///   closes after the answer. A whole request (head read to body end) may also take no
///   longer than `requestTimeout` in all, so a body trickling one byte just inside every
///   silence window is cut off as well (the same 408).
/// - **Connections per client.** Beyond ``ConnectionLimiter/limit`` open connections from one
///   IP address, a new one is answered with a JSON 429 at once and closed.
///
/// An answer with `Connection: close` ends with a lingering close: the output side is shut
/// after the answer, and whatever the client still sends is read and dropped for up to
/// `lingerTimeout`, so a client still sending a refused body sees the answer rather than a
/// connection reset (the kernel resets a socket closed with unread input).
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Timeouts of one connection.
    struct Timeouts {
        var header: TimeAmount
        var body: TimeAmount
        /// Longest time from a request head to its body's end, however steadily it trickles.
        var request: TimeAmount = .seconds(120)
        var linger: TimeAmount = .seconds(2)
    }

    private let timeouts: Timeouts
    private let limiter: ConnectionLimiter
    private let metrics: ServerMetrics
    private let logger: Logger

    /// The client address counted by the limiter (nil until counted, and once released).
    private var client: String?
    private var started = false
    /// A request head was read and its end not yet.
    private var requestOpen = false
    /// The current request has an answer head written.
    private var responded = false
    /// An answer head was written and its end not yet.
    private var responseOpen = false
    /// Close (lingering) once the current answer ends.
    private var closeAfterResponse = false
    /// Inbound parts and decoder errors are no longer passed on.
    private var inboundStopped = false
    private var lingering = false
    private var timer: Scheduled<Void>?
    /// The current request's overall deadline (armed at its head, cancelled at its end).
    private var requestDeadline: Scheduled<Void>?

    init(timeouts: Timeouts, limiter: ConnectionLimiter, metrics: ServerMetrics, logger: Logger) {
        self.timeouts = timeouts
        self.limiter = limiter
        self.metrics = metrics
        self.logger = logger
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        // HTTP/1.0 framing needs the request's version, which only NIO's HTTP/1 parts carry.
        if let codec = try? context.pipeline.syncOperations.handler(type: HTTP1ToHTTPServerCodec.self) {
            try? context.pipeline.syncOperations.addHandler(HTTP10Framing(), position: .before(codec))
        }
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        guard limiter.acquire(address) else {
            inboundStopped = true
            respond(context, APIError(.tooManyRequests,
                                      "Too many open connections from \(address) (at most \(limiter.limit)); close some and retry",
                                      type: "rate_limit_error", code: "too_many_connections", retryAfter: 1,
                                      closesConnection: true))
            return
        }
        client = address
        arm(context, timeouts.header) { [self] in
            logger.debug("\(address): no complete request head within \(timeouts.header.seconds) s, closing")
            context.close(promise: nil)
        }
    }

    private func finish() {
        timer?.cancel()
        timer = nil
        requestDeadline?.cancel()
        requestDeadline = nil
        if let client { limiter.release(client) }
        client = nil
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if inboundStopped { return }
        switch unwrapInboundIn(data) {
        case .head:
            requestOpen = true
            responded = false
            armBodyTimer(context)
            armRequestDeadline(context)
        case .body:
            armBodyTimer(context)
        case .end:
            requestOpen = false
            cancelTimer()
            requestDeadline?.cancel()
            requestDeadline = nil
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if inboundStopped && Self.isTransportError(error) { return }
        guard let answer = Self.apiError(for: error) else {
            context.fireErrorCaught(error)
            return
        }
        inboundStopped = true
        if requestOpen && !responded {
            // The route is reading this body: it fails with the error and answers in shape.
            closeAfterResponse = true
            context.fireErrorCaught(error)
            armAbort(context)
        } else if responseOpen {
            closeAfterResponse = true
        } else if requestOpen {
            // Answered already; the rest of the body is unreadable.
            context.close(promise: nil)
        } else {
            respond(context, answer)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if lingering, let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let response):
            responded = true
            responseOpen = true
            if response.headerFields[.connection]?.lowercased() == "close" { closeAfterResponse = true }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            responseOpen = false
            if closeAfterResponse {
                let written = context.eventLoop.makePromise(of: Void.self)
                if let promise { written.futureResult.cascade(to: promise) }
                context.write(data, promise: written)
                written.futureResult.assumeIsolated().whenComplete { [self] _ in lingerClose(context) }
            } else {
                context.write(data, promise: promise)
                if !requestOpen { startKeepAliveTimer(context) }
            }
        }
    }

    // MARK: Timers

    private func startKeepAliveTimer(_ context: ChannelHandlerContext) {
        arm(context, timeouts.header) { [self] in
            if !requestOpen && !responseOpen { context.close(promise: nil) }
        }
    }

    private func armBodyTimer(_ context: ChannelHandlerContext) {
        arm(context, timeouts.body) { [self] in
            guard requestOpen else { return }
            guard !responded else {
                context.close(promise: nil)
                return
            }
            logger.debug("\(client ?? "?"): request body silent for \(timeouts.body.seconds) s")
            failBody(context, RequestBodyTimeout(seconds: timeouts.body.seconds, kind: .silent))
        }
    }

    /// The whole-request deadline: a body still arriving `timeouts.request` after its head
    /// fails like a silent one, however regularly its bytes come.
    private func armRequestDeadline(_ context: ChannelHandlerContext) {
        requestDeadline?.cancel()
        requestDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeouts.request) { [self] in
            requestDeadline = nil
            guard requestOpen, !inboundStopped else { return }
            guard !responded else {
                context.close(promise: nil)
                return
            }
            logger.debug("\(client ?? "?"): request body not complete within \(timeouts.request.seconds) s")
            failBody(context, RequestBodyTimeout(seconds: timeouts.request.seconds, kind: .total))
        }
    }

    /// Hands a body timeout to the route reading the body (it answers 408), then closes.
    private func failBody(_ context: ChannelHandlerContext, _ error: RequestBodyTimeout) {
        inboundStopped = true
        closeAfterResponse = true
        context.fireErrorCaught(error)
        armAbort(context)
    }

    /// After an error was handed to the route: close anyway if no answer has finished in time.
    private func armAbort(_ context: ChannelHandlerContext) {
        arm(context, timeouts.body) { context.close(promise: nil) }
    }

    private func arm(_ context: ChannelHandlerContext, _ delay: TimeAmount, _ action: @escaping () -> Void) {
        timer?.cancel()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            timer = nil
            action()
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    // MARK: Answers

    /// Writes `error` as a whole answer (no route involved), then closes.
    private func respond(_ context: ChannelHandlerContext, _ error: APIError) {
        var fields = error.headerFields
        fields[.connection] = "close"
        let body = ByteBuffer(bytes: JSON.encode(error.body))
        fields[.contentLength] = "\(body.readableBytes)"
        metrics.recordRequest(status: error.status.code)
        logger.info("\(context.channel.remoteAddress?.ipAddress ?? "?") \(error.status.code) before routing: \(error.message)")
        responded = true
        closeAfterResponse = true
        context.write(wrapOutboundOut(.head(HTTPResponse(status: error.status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { [self] _ in
            lingerClose(context)
        }
    }

    private func lingerClose(_ context: ChannelHandlerContext) {
        guard !lingering else { return }
        lingering = true
        inboundStopped = true
        context.close(mode: .output, promise: nil)
        arm(context, timeouts.linger) { context.close(promise: nil) }
    }

    // MARK: Errors

    /// Errors of the HTTP/1 decoding layers (below any route).
    static func isTransportError(_ error: Error) -> Bool {
        error is HTTPParserError || error is HTTP1TypeConversionError || error is ByteToMessageDecoderError
            || error is RequestBodyTimeout
    }

    /// The answer for an error of the HTTP/1 decoding layers or a read timeout; nil for others.
    static func apiError(for error: Error) -> APIError? {
        switch error {
        case let e as HTTPParserError:
            if case .headerOverflow = e {
                return APIError(.requestHeaderFieldsTooLarge,
                                "The request head is too large (the request line and headers may total at most 80 KiB)",
                                code: "request_header_too_large", closesConnection: true)
            }
            return APIError(.badRequest, "Malformed HTTP request: \(e.debugDescription)", code: "malformed_http",
                            closesConnection: true)
        case let e as HTTP1TypeConversionError:
            return APIError(.badRequest, "Malformed HTTP request head: \(e)", code: "malformed_http", closesConnection: true)
        case let e as ByteToMessageDecoderError:
            return APIError(.badRequest, "Malformed HTTP request: \(e)", code: "malformed_http", closesConnection: true)
        case let e as RequestBodyTimeout:
            let message = switch e.kind {
            case .silent: "The request body stopped arriving for \(e.seconds) s before it was complete"
            case .total: "The request body was not complete within \(e.seconds) s of its head"
            }
            return APIError(.requestTimeout, message, code: "request_timeout", closesConnection: true)
        default:
            return nil
        }
    }
}

/// A request body that went silent for longer than the server's body timeout, or was still
/// arriving at the request deadline.
struct RequestBodyTimeout: Error, CustomStringConvertible {
    enum Kind { case silent, total }
    let seconds: Double
    let kind: Kind
    var description: String {
        switch kind {
        case .silent: "the request body stopped arriving for \(seconds) s"
        case .total: "the request body was not complete within \(seconds) s"
        }
    }
}

extension TimeAmount {
    init(seconds: TimeInterval) {
        self = .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    var seconds: Double { Double(nanoseconds) / 1e9 }
}
