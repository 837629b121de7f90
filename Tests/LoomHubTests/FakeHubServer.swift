import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
@testable import LoomHub

/// An in-process HTTP/1.1 server on 127.0.0.1 implementing the subset of the Hugging Face
/// hub's API that `HubClient` uses, with faults to inject:
///
/// - `GET /api/models/{owner}/{repo}/revision/{rev}?blobs=true` → `{"sha", "siblings"}`;
/// - `GET /{owner}/{repo}/resolve/{rev}/{file}` → for LFS files a 302 to `/cdn/{sha256}`
///   carrying `X-Linked-Etag`, `X-Linked-Size` and `X-Repo-Commit`; small files directly;
/// - `GET /cdn/{sha256}` → the bytes, honouring `Range: bytes=N-` with 206.
///
/// With `token` set, the API and resolve routes answer 401 without `Authorization: Bearer
/// token`. `fault` may replace or damage any answer (per request, counting tries).
final class FakeHubServer: @unchecked Sendable {
    /// What a route answers: status, headers, body, and how to misbehave while sending it.
    struct Reply {
        var status: HTTPResponseStatus
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        /// Close the connection after this many body bytes (announcing the full length).
        var dropAfter: Int? = nil
        /// Wait this long before sending the body (a stalled server).
        var stall: TimeAmount? = nil
    }

    struct Request {
        var method: HTTPMethod
        var uri: String
        var headers: HTTPHeaders
        var path: String { String(uri.split(separator: "?", maxSplits: 1).first ?? "") }
    }

    struct File {
        var path: String
        var bytes: [UInt8]
        var lfs: Bool
        var sha256: String { SHA256.hash(data: bytes).hex }
        var blobID: String { String(sha256.prefix(40)) }
    }

    let repository: String
    let commit = "0123456789abcdef0123456789abcdef01234567"
    var files: [File]
    var token: String?
    /// Called for every request with its number (0-based) among requests to the same path;
    /// a non-nil reply is sent instead of the normal one.
    var fault: (@Sendable (Request, Int, Reply) -> Reply?)?

    private let lock = NSLock()
    private var log: [Request] = []
    private var counts: [String: Int] = [:]
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var channel: Channel?

    init(repository: String, files: [File], token: String? = nil) {
        self.repository = repository
        self.files = files
        self.token = token
    }

    /// Binds to a free port on 127.0.0.1; returns the endpoint URL.
    func start() throws -> String {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(server: self))
                }
            }
        let channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
        self.channel = channel
        return "http://127.0.0.1:\(channel.localAddress!.port!)"
    }

    /// Closes the listener and every connection; later calls do nothing.
    func stop() {
        lock.lock()
        let running = channel
        channel = nil
        lock.unlock()
        guard let running else { return }
        try? running.close().wait()
        try? group.syncShutdownGracefully()
    }

    /// Every request received so far.
    var requests: [Request] {
        lock.lock(); defer { lock.unlock() }
        return log
    }

    // MARK: - Routes

    fileprivate func reply(to request: Request) -> Reply {
        lock.lock()
        log.append(request)
        let index = counts[request.path, default: 0]
        counts[request.path] = index + 1
        let fault = self.fault
        lock.unlock()
        let normal = route(request)
        return fault?(request, index, normal) ?? normal
    }

    private func route(_ request: Request) -> Reply {
        let path = request.path.removingPercentEncoding ?? request.path
        let authorized = token == nil || request.headers.first(name: "Authorization") == "Bearer \(token!)"
        if path.hasPrefix("/api/models/\(repository)/revision/") {
            guard authorized else { return Reply(status: .unauthorized, body: Array(#"{"error":"Invalid credentials"}"#.utf8)) }
            let siblings: [[String: Any]] = files.map { file in
                var entry: [String: Any] = ["rfilename": file.path, "size": file.bytes.count, "blobId": file.blobID]
                if file.lfs { entry["lfs"] = ["sha256": file.sha256, "size": file.bytes.count, "pointerSize": 134] }
                return entry
            }
            let json = try! JSONSerialization.data(withJSONObject: ["id": repository, "sha": commit, "siblings": siblings])
            return Reply(status: .ok, headers: [("Content-Type", "application/json")], body: Array(json))
        }
        if path.hasPrefix("/\(repository)/resolve/") {
            guard authorized else { return Reply(status: .unauthorized, body: Array(#"{"error":"Invalid credentials"}"#.utf8)) }
            let rest = path.dropFirst("/\(repository)/resolve/".count)
            guard let slash = rest.firstIndex(of: "/") else { return Reply(status: .notFound) }
            let name = String(rest[rest.index(after: slash)...])
            guard let file = files.first(where: { $0.path == name }) else {
                return Reply(status: .notFound, headers: [("X-Error-Code", "EntryNotFound"), ("X-Error-Message", "Entry not found")])
            }
            if file.lfs {
                return Reply(status: .found, headers: [
                    ("Location", "/cdn/\(file.sha256)"), ("X-Linked-Etag", "\"\(file.sha256)\""),
                    ("X-Linked-Size", "\(file.bytes.count)"), ("X-Repo-Commit", commit), ("ETag", "\"\(file.blobID)\""),
                ])
            }
            return serve(file.bytes, etag: file.blobID, request: request)
        }
        if path.hasPrefix("/cdn/"), let file = files.first(where: { $0.sha256 == path.dropFirst(5) }) {
            return serve(file.bytes, etag: file.sha256, request: request)
        }
        return Reply(status: .notFound, headers: [("X-Error-Code", "RepoNotFound"), ("X-Error-Message", "Repository not found")])
    }

    private func serve(_ bytes: [UInt8], etag: String, request: Request) -> Reply {
        if let range = request.headers.first(name: "Range"), range.hasPrefix("bytes="), range.hasSuffix("-"),
           let start = Int(range.dropFirst(6).dropLast()) {
            guard start < bytes.count else { return Reply(status: .rangeNotSatisfiable, headers: [("Content-Range", "bytes */\(bytes.count)")]) }
            return Reply(status: .partialContent, headers: [("ETag", "\"\(etag)\""), ("Content-Range", "bytes \(start)-\(bytes.count - 1)/\(bytes.count)")],
                         body: Array(bytes[start...]))
        }
        return Reply(status: .ok, headers: [("ETag", "\"\(etag)\""), ("Accept-Ranges", "bytes")], body: bytes)
    }

    // MARK: - Channel handler

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let server: FakeHubServer
        var head: HTTPRequestHead?

        init(server: FakeHubServer) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case let .head(head): self.head = head
            case .body: break
            case .end:
                guard let head else { return }
                let reply = server.reply(to: Request(method: head.method, uri: head.uri, headers: head.headers))
                send(reply, context: context)
            }
        }

        private func send(_ reply: Reply, context: ChannelHandlerContext) {
            var headers = HTTPHeaders(reply.headers)
            headers.replaceOrAdd(name: "Content-Length", value: "\(reply.body.count)")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers))), promise: nil)
            context.flush()
            let writeBody = {
                if let drop = reply.dropAfter {
                    var buffer = context.channel.allocator.buffer(capacity: drop)
                    buffer.writeBytes(reply.body.prefix(drop))
                    context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(buffer)))).whenComplete { _ in
                        context.close(promise: nil)
                    }
                    return
                }
                var buffer = context.channel.allocator.buffer(capacity: reply.body.count)
                buffer.writeBytes(reply.body)
                context.write(self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            }
            if let stall = reply.stall {
                context.eventLoop.scheduleTask(in: stall) { writeBody() }
            } else {
                writeBody()
            }
        }
    }
}
