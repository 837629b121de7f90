import Foundation
import Hummingbird
import Logging
import NIOCore
import LoomGeneration
import LoomKernels
import LoomModels

/// Settings of `loom serve`.
public struct ServerConfiguration: Sendable {
    public var host: String
    /// TCP port; 0 picks a free one (see ``LoomHTTPServer/listeningPort()``).
    public var port: Int
    /// When set, every route but `/health` needs `Authorization: Bearer <apiKey>`.
    public var apiKey: String?
    /// Sequences generated together (KV-cache slots).
    public var parallel: Int
    /// Positions per slot (prompt plus answer); nil = the model's trained context, at most 4096.
    public var contextLength: Int?
    /// Model id reported instead of the file name. Requests may name the model anything (as
    /// llama-server answers them): only an adapter's name selects something else.
    public var alias: String?
    /// More names listed in the model's `/v1/models` entry (`--alias a,b,c` gives `b` and `c`).
    public var additionalAliases: [String] = []
    /// A Jinja chat template replacing the model's (`--chat-template-file`).
    public var chatTemplate: String?
    /// Worker threads of the forward pass; nil = all cores.
    public var threads: Int?
    /// Requests waiting for a slot beyond which new ones get 503 + Retry-After.
    public var queueLimit: Int
    /// Kernel choices of the forward pass. By default the small-batch kernels
    /// (``KernelOptions/smallBatchKernels``): ≈ 2.4× the throughput of batch-invariant products
    /// at 8 streams on SmolLM2 (BENCHMARKS.md), but a row's rounding then depends on the rows
    /// that share its step. ``KernelOptions/default`` (`loom serve --deterministic`) makes
    /// answers and log-probs independent of the load. Draft rows are verified exactly either way.
    public var kernelOptions: KernelOptions
    /// Where the server logs (an access line per request at `info`, load details at `debug`);
    /// nil = label "loom" on swift-log's default handler (standard error) at `info`, or at the
    /// level named by the `LOG_LEVEL` environment variable, as Hummingbird does.
    public var logger: Logger?
    /// Seconds a connection may take to send a complete request head, counted from when it
    /// opens or its previous answer ends (so it is also the keep-alive idle time). A client
    /// still short of a head then is disconnected (slowloris).
    public var headerTimeout: TimeInterval
    /// Longest silence, in seconds, while a request body is arriving; then the request gets
    /// a 408 and the connection closes (a Content-Length larger than the body sent).
    public var bodyTimeout: TimeInterval
    /// Longest time, in seconds, from a request head to the end of its body, however steadily
    /// the body arrives (a client trickling a byte just inside every `bodyTimeout`); then 408.
    public var requestTimeout: TimeInterval
    /// Open connections allowed from one client IP address; more get a 429 and are closed.
    /// 0 = no limit.
    public var maxConnectionsPerClient: Int
    /// Largest request body in bytes. A larger declared Content-Length is refused with 413
    /// before the body is read; a chunked body is refused as soon as it grows past this.
    /// 8 MiB is well above the largest legitimate request (a 128K-token prompt as token ids,
    /// or as text, is about 1 MB of JSON).
    public var maxRequestBodyBytes: Int
    /// Origins browsers may call from (`Access-Control-Allow-Origin`; `*` for any); empty: no CORS.
    public var corsOrigins: [String] = []
    /// LoRA adapters attached at start, in order (ids 0, 1, …). One with a `name` is a
    /// selectable model (vLLM's `--lora-modules name=path`): attached at scale 0 and turned on
    /// for requests whose `model` is that name; one without is on for every request at its
    /// scale (llama.cpp's `--lora`). Both can be rescaled by `POST /lora-adapters` and chosen
    /// per request with `"lora": [{"id", "scale"}]`.
    public var loraAdapters: [ServedLoRA] = []
    /// llama.cpp's `--context-shift` / `--keep`: a slot whose prompt plus answer fill its
    /// context drops the older half (after `keep` tokens) and goes on, up to the request's
    /// `max_tokens`. nil (the default, as in llama-server): generation stops with `length`.
    public var contextShift: ContextShift?
    /// Speculative decoding with prompt-lookup drafts for every request (`loom serve --lookup`,
    /// ``SpeculativeOptions/Source/promptLookup(ngramMin:ngramMax:)``). Drafts are verified in
    /// a batch, whose kernels can round differently from one-token steps, so an answer may
    /// differ from plain decoding where its two best tokens are nearly tied. A draft model is
    /// not supported by the server.
    public var speculative: SpeculativeOptions?
    /// The tool-call syntax of the model's family; nil = detected from its chat template
    /// (``ToolCallFormat/detect(chatTemplate:)``).
    public var toolCallFormat: ToolCallFormat?
    /// The model behind `POST /v1/embeddings`: all-MiniLM-L6-v2 by default (fetched on the
    /// first embeddings request), another encoder, the served decoder pooled, or none.
    public var embeddingModel: EmbeddingModelChoice = .miniLM

    public init(host: String = "127.0.0.1", port: Int = 8080, apiKey: String? = nil, parallel: Int = 4,
                contextLength: Int? = nil, alias: String? = nil, threads: Int? = nil, queueLimit: Int = 64,
                kernelOptions: KernelOptions = .smallBatchKernels, logger: Logger? = nil,
                headerTimeout: TimeInterval = 30, bodyTimeout: TimeInterval = 30, requestTimeout: TimeInterval = 120,
                maxConnectionsPerClient: Int = 64, maxRequestBodyBytes: Int = 8 << 20) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.parallel = parallel
        self.contextLength = contextLength
        self.alias = alias
        self.threads = threads
        self.queueLimit = queueLimit
        self.kernelOptions = kernelOptions
        self.logger = logger
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.requestTimeout = requestTimeout
        self.maxConnectionsPerClient = maxConnectionsPerClient
        self.maxRequestBodyBytes = maxRequestBodyBytes
    }
}

/// The OpenAI-compatible HTTP server: starts listening at once (health answers 503 while the
/// model loads), then serves completions through a continuous-batching ``BatchScheduler``.
/// On SIGINT/SIGTERM (``run(handleSignals:)``, Hummingbird's service lifecycle) it stops
/// accepting connections, lets in-flight requests finish, then stops the scheduler;
/// cancelling the task that runs it does the same.
///
/// ```swift
/// let server = LoomHTTPServer(configuration: .init(port: 8080)) { try LanguageModel(path: path) }
/// try await server.run()
/// ```
public final class LoomHTTPServer: @unchecked Sendable {
    public let configuration: ServerConfiguration
    public let metrics = ServerMetrics()
    /// The server's logger (see ``ServerConfiguration/logger``).
    public let logger: Logger
    private let load: @Sendable () throws -> LanguageModel
    let host = ModelHost()
    /// Open connections per client address (``ServerConfiguration/maxConnectionsPerClient``).
    let connections: ConnectionLimiter
    private let portLock = NSCondition()
    private var boundPort: Int?

    /// - Parameter load: loads the model (runs on a background thread after the server starts).
    public init(configuration: ServerConfiguration, load: @escaping @Sendable () throws -> LanguageModel) {
        self.configuration = configuration
        self.load = load
        logger = configuration.logger ?? Self.defaultLogger()
        connections = ConnectionLimiter(limit: configuration.maxConnectionsPerClient)
    }

    private static func defaultLogger() -> Logger {
        var logger = Logger(label: "loom")
        if let level = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) {
            logger.logLevel = level
        }
        return logger
    }

    /// The served model once loaded.
    public var servedModel: ServedModel? {
        if case .ready(let model) = host.current { return model }
        return nil
    }

    /// Waits until the server listens and returns its port (useful with port 0).
    public func listeningPort(timeout: TimeInterval = 60) -> Int? {
        portLock.lock()
        defer { portLock.unlock() }
        let deadline = Date().addingTimeInterval(timeout)
        while boundPort == nil && portLock.wait(until: deadline) {}
        return boundPort
    }

    private func setBoundPort(_ port: Int?) {
        portLock.lock()
        boundPort = port
        portLock.broadcast()
        portLock.unlock()
    }

    /// Serves until SIGINT/SIGTERM (when `handleSignals`) or until the calling task is
    /// cancelled, then drains in-flight requests and returns.
    public func run(handleSignals: Bool = true) async throws {
        let router = Router(context: ServerRequestContext.self)
        router.add(middleware: AccessLogMiddleware())
        router.add(middleware: ErrorMiddleware(metrics: metrics))
        router.add(middleware: BodyLimitMiddleware(limit: configuration.maxRequestBodyBytes))
        if !configuration.corsOrigins.isEmpty { router.add(middleware: CORSOriginsMiddleware(origins: configuration.corsOrigins)) }
        if let key = configuration.apiKey { router.add(middleware: APIKeyMiddleware(key: key)) }
        let embeddings = EmbeddingService(choice: configuration.embeddingModel, threads: configuration.threads)
        Routes(host: host, metrics: metrics, embeddings: embeddings, maxBodyBytes: configuration.maxRequestBodyBytes).register(on: router)
        let timeouts = ConnectionGuard.Timeouts(header: TimeAmount(seconds: configuration.headerTimeout),
                                                body: TimeAmount(seconds: configuration.bodyTimeout),
                                                request: TimeAmount(seconds: configuration.requestTimeout))
        let (limiter, metrics, logger) = (connections, metrics, logger)
        let app = Application(
            router: router,
            server: .http1(configuration: .init(additionalChannelHandlers: [
                ConnectionGuard(timeouts: timeouts, limiter: limiter, metrics: metrics, logger: logger),
            ])),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "loom"),
            onServerRunning: { [self] channel in setBoundPort(channel.localAddress?.port) },
            logger: logger)
        startLoading()
        if handleSignals {
            try await app.runService()
        } else {
            try await app.runService(gracefulShutdownSignals: [])
        }
        // The HTTP server has drained its connections; finish whatever is still queued.
        if case .ready(let served) = host.current { served.scheduler.drainAndStop() }
    }

    /// Load details at `debug` level (`loom serve -v`): file, architecture, threads, slots,
    /// context and KV-cache bytes.
    private func logLoadDetails(_ model: LanguageModel, context: Int) {
        let c = model.config
        let threads = configuration.threads ?? ThreadPool.availableProcessors
        // Keys and values of every position of every slot, in the model's cache types.
        let kvBytes = c.layerCount * context * configuration.parallel * model.cacheTypes.bytesPerPosition(rowSize: c.kvHeadCount * c.headDim)
        logger.debug("loaded \(model.path)")
        logger.debug("architecture \(c.architecture.name) (\(c.name)): \(c.layerCount) layers, embedding \(c.embeddingSize), \(c.headCount) heads (\(c.kvHeadCount) KV) of \(c.headDim), vocabulary \(c.vocabularySize)")
        logger.debug("threads \(threads), \(configuration.parallel) slots × context \(context) tokens (trained \(c.contextLength)), KV cache \(kvBytes) bytes (\(model.cacheTypes))")
    }

    private func startLoading() {
        let configuration = configuration
        let thread = Thread { [self] in
            do {
                let model = try load()
                var adapterNames: [String: Int] = [:]
                for adapter in configuration.loraAdapters {
                    let id = try model.loadLoRA(path: adapter.path, scale: adapter.name == nil ? adapter.scale : 0)
                    if let name = adapter.name { adapterNames[name] = id }
                    FileHandle.standardError.write(Data("loom serve: LoRA \(id) \(adapter.name.map { "'\($0)' " } ?? "")from \(adapter.path)\n".utf8))
                }
                // A bad --chat-template-file fails the load before any slot exists.
                if let template = configuration.chatTemplate { _ = try ChatFormatter(model: model, template: template) }
                let context = configuration.contextLength ?? min(model.config.contextLength, 4096)
                let scheduler = try BatchScheduler(model: model, slots: configuration.parallel, contextLength: context,
                                                   queueLimit: configuration.queueLimit, threads: configuration.threads,
                                                   metrics: metrics, kernelOptions: configuration.kernelOptions,
                                                   contextShift: configuration.contextShift,
                                                   speculative: configuration.speculative)
                scheduler.start()
                logLoadDetails(model, context: context)
                let aliases = (configuration.alias.map { [$0] } ?? []) + configuration.additionalAliases
                host.set(.ready(try ServedModel(model: model, scheduler: scheduler, aliases: aliases,
                                                adapterNames: adapterNames, toolCallFormat: configuration.toolCallFormat,
                                                template: configuration.chatTemplate)))
                FileHandle.standardError.write(Data("loom serve: model ready (\(model.path)), \(configuration.parallel) slots × \(context) tokens\n".utf8))
            } catch {
                host.set(.failed("\(error)"))
                FileHandle.standardError.write(Data("loom serve: the model failed to load: \(error)\n".utf8))
            }
        }
        thread.start()
    }
}
