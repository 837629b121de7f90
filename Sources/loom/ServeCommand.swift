import ArgumentParser
import Foundation
import LoomFormats
import LoomGeneration
import LoomHub
import LoomModels
import LoomServer

/// `loom serve`: an OpenAI-compatible HTTP server with continuous batching.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over an OpenAI-compatible HTTP API (chat, completions, streaming, metrics).",
        discussion: """
        Routes: POST /v1/chat/completions, /v1/completions, /v1/embeddings, /tokenize, /detokenize, /apply-template; \
        GET /v1/models, /health, /metrics. Up to --parallel requests generate together in one batched \
        forward pass per token; more wait in a queue (503 with Retry-After when it is full). \
        SIGINT/SIGTERM finish in-flight requests, then exit.
        """)

    @Option(name: [.short, .customLong("model")], help: "GGUF file, model name or hf:OWNER/REPO[:QUANT][@REV] (default: smollm2).")
    var model: String?
    @Flag(help: "Use only cached hub files (as HF_HUB_OFFLINE=1); say what is missing instead of downloading.")
    var offline = false
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(parsing: .unconditional, help: "TCP port (0 = any free port).") var port = 8080
    @Option(name: .customLong("api-key"), help: "Require 'Authorization: Bearer KEY' (except on /health).")
    var apiKey: String?
    @Option(parsing: .unconditional, help: "Sequences generated together (KV-cache slots).") var parallel = 4
    @Option(name: .customLong("ctx"), parsing: .unconditional, help: "Context length per slot (default: the model's, at most 4096).")
    var contextLength: Int?
    @Option(help: ArgumentHelp("Model id to report instead of the file name; more names after commas are listed too. Requests may name the model anything.", valueName: "name[,name…]"))
    var alias: String?
    @Option(help: "A Jinja chat template file to use instead of the model's.") var chatTemplateFile: String?
    @Option(name: [.short, .customLong("threads")], parsing: .unconditional, help: "Worker threads (default: all cores).") var threads: Int?
    @Option(name: .customLong("queue"), parsing: .unconditional, help: "Requests that may wait for a slot before 503.") var queueLimit = 64
    @Option(parsing: .unconditional, help: "Seconds a client may take to send a request head (also the keep-alive idle time).")
    var headerTimeout: Double = 30
    @Option(parsing: .unconditional, help: "Longest silence, in seconds, while a request body arrives (then 408).")
    var bodyTimeout: Double = 30
    @Option(parsing: .unconditional, help: "Longest time, in seconds, from a request head to the end of its body (then 408).")
    var requestTimeout: Double = 120
    @Option(parsing: .unconditional, help: "Open connections allowed per client address; 0 = no limit (behind a proxy).")
    var maxClientConnections = 64
    @Option(parsing: .unconditional, help: "Largest request body in MiB (413 beyond).")
    var maxBodyMib = 8
    @OptionGroup var lora: LoRAOptions
    @OptionGroup var rope: RopeOptions
    @OptionGroup var cache: CacheTypeOptions
    @OptionGroup var draft: DraftOptions
    @OptionGroup var embedding: EmbeddingOptions
    @Flag(name: .customLong("context-shift"),
          help: "When a slot's prompt plus answer fill its context, drop the older half (after --keep tokens) and go on to max_tokens.")
    var contextShift = false
    @Option(name: .customLong("keep"), parsing: .unconditional,
            help: "Tokens at the start that --context-shift never drops; -1 = the whole prompt (default 0).")
    var keep: Int?
    @Option(name: .customLong("lora-modules"), help: ArgumentHelp("An adapter selected by a request's \"model\" (vLLM's form); repeatable.", valueName: "name=path"))
    var loraModules: [String] = []
    @Flag(name: .shortAndLong, help: "Log at debug level: load details (file, architecture, threads, context, KV-cache bytes) besides the access log.")
    var verbose = false

    @Option(help: "The model's tool-call syntax: llama3, hermes, mistral or generic (default: detected from the chat template).")
    var toolCallFormat: String?
    @Option(help: ArgumentHelp("Origins browsers may call the server from, comma-separated, or * for any (CORS).", valueName: "origins"))
    var corsOrigins: String?
    @Flag(name: [.customLong("deterministic"), .customLong("batch-invariant")],
          help: "Give every row of a batched step the arithmetic it gets alone, so answers and log-probs do not depend on the server's load (about 2.4x less throughput at 8 streams; BENCHMARKS.md).")
    var deterministic = false

    func validate() throws {
        if draft.modelDraft != nil {
            throw ValidationError("loom serve drafts with --lookup only; --model-draft is not supported by the server")
        }
        if let toolCallFormat, ToolCallFormat(rawValue: toolCallFormat) == nil {
            throw ValidationError("--tool-call-format must be one of \(ToolCallFormat.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(toolCallFormat)\"")
        }
        if keep != nil && !contextShift { throw ValidationError("--keep only applies with --context-shift") }
        if let keep, keep < -1 { throw ValidationError("--keep must be ≥ -1 (-1: the whole prompt), got \(keep)") }
        if let keep, let contextLength, keep > contextLength - 2 {
            throw ValidationError("--keep \(keep) leaves nothing to drop in a context of \(contextLength); keep fewer tokens or raise --ctx")
        }
        if let corsOrigins, corsOrigins.split(separator: ",", omittingEmptySubsequences: false)
            .contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("--cors-origins needs comma-separated origins (e.g. https://app.example) or *, got \"\(corsOrigins)\"")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0…65535, got \(port)") }
        guard (1...64).contains(parallel) else { throw ValidationError("--parallel must be in 1…64, got \(parallel)") }
        if let contextLength, contextLength < 8 { throw ValidationError("--ctx must be at least 8, got \(contextLength)") }
        if let threads, threads < 1 || threads > 512 { throw ValidationError("--threads must be between 1 and 512, got \(threads)") }
        guard queueLimit >= 0 else { throw ValidationError("--queue must be ≥ 0, got \(queueLimit)") }
        if let apiKey, apiKey.isEmpty { throw ValidationError("--api-key must not be empty") }
        if let alias, alias.split(separator: ",", omittingEmptySubsequences: false)
            .contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("--alias needs comma-separated names, got \"\(alias)\"")
        }
        _ = try servedAdapters(resolve: false)
        for (flag, value) in [("--header-timeout", headerTimeout), ("--body-timeout", bodyTimeout),
                             ("--request-timeout", requestTimeout)] where !(value > 0 && value <= 86_400) {
            throw ValidationError("\(flag) must be in (0, 86400] seconds, got \(value)")
        }
        guard maxClientConnections >= 0 else { throw ValidationError("--max-client-connections must be ≥ 0, got \(maxClientConnections)") }
        guard (1...4096).contains(maxBodyMib) else { throw ValidationError("--max-body-mib must be in 1…4096, got \(maxBodyMib)") }
    }

    /// `--lora`/`--lora-scaled` adapters (on for every request), then `--lora-modules`
    /// (selected by name), in that order: their ids. `resolve` fetches `hf:` adapters (false
    /// while validating, which must not touch the network).
    func servedAdapters(resolve: Bool = true) throws -> [ServedLoRA] {
        let locate = { (text: String) throws -> String in resolve ? try ModelLocator.adapterPath(text) : text }
        var names = Set<String>()
        let modules = try loraModules.map { text -> ServedLoRA in
            guard let eq = text.firstIndex(of: "="), eq != text.startIndex, text.index(after: eq) != text.endIndex else {
                throw ValidationError("--lora-modules '\(text)' must be NAME=PATH")
            }
            let name = String(text[..<eq])
            guard names.insert(name).inserted else { throw ValidationError("--lora-modules: the name '\(name)' is given twice") }
            if aliasNames.contains(name) { throw ValidationError("--lora-modules: '\(name)' is also an --alias of the base model") }
            return ServedLoRA(name: name, path: try locate(String(text[text.index(after: eq)...])))
        }
        return try (resolve ? lora.resolvedAdapters() : lora.adapters()).map { ServedLoRA(path: $0.path, scale: $0.scale) } + modules
    }

    /// The `--alias` names, in order.
    var aliasNames: [String] { alias.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? [] }

    func run() throws {
        ModelLocator.goOffline(offline)
        // Resolve (and fetch) a named model before listening, so the fetch's errors are
        // reported plainly; loading itself happens while /health answers 503.
        let path = try ModelLocator.resolve(model)
        let aliases = aliasNames
        var configuration = ServerConfiguration(
            host: host, port: port, apiKey: apiKey, parallel: parallel, contextLength: contextLength,
            alias: aliases.first, threads: threads, queueLimit: queueLimit,
            logger: verbose ? LoadLog.logger(verbose: true) : nil,
            headerTimeout: headerTimeout, bodyTimeout: bodyTimeout, requestTimeout: requestTimeout,
            maxConnectionsPerClient: maxClientConnections, maxRequestBodyBytes: maxBodyMib << 20)
        configuration.loraAdapters = try servedAdapters()
        if contextShift { configuration.contextShift = ContextShift(keep: keep ?? 0) }
        configuration.speculative = draft.options
        configuration.toolCallFormat = toolCallFormat.flatMap(ToolCallFormat.init(rawValue:))
        configuration.kernelOptions.batchInvariant = deterministic
        configuration.embeddingModel = embedding.serverChoice
        configuration.additionalAliases = Array(aliases.dropFirst())
        if let chatTemplateFile {
            guard let data = FileManager.default.contents(atPath: chatTemplateFile) else {
                throw ValidationError("--chat-template-file: cannot read \(chatTemplateFile)")
            }
            configuration.chatTemplate = String(decoding: data, as: UTF8.self)
        }
        configuration.corsOrigins = corsOrigins.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
        let overrides = rope.overrides, context = contextLength, cache = cache
        let server = LoomHTTPServer(configuration: configuration) {
            let model = try LanguageModel(path: path, rope: overrides)
            try cache.apply(to: model)
            if let context, let warning = model.contextWarning(context: context, ropeOverridden: !overrides.isEmpty) {
                FileHandle.standardError.write(Data((warning + "\n").utf8))
            }
            return model
        }
        let done = DispatchSemaphore(value: 0)
        let outcome = ServeOutcome()
        Task.detached {
            do { try await server.run(handleSignals: true) } catch { outcome.error = error }
            done.signal()
        }
        if let bound = server.listeningPort() {
            FileHandle.standardError.write(Data("loom serve: listening on http://\(host):\(bound)\n".utf8))
        }
        done.wait()
        if let error = outcome.error { throw error }
    }
}

/// The server task's error, handed back to the blocked main thread.
private final class ServeOutcome: @unchecked Sendable {
    var error: Error?
}
