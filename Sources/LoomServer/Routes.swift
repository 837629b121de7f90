import Foundation
import Hummingbird
import LoomGeneration

/// The server's routes: OpenAI's (`/v1/chat/completions`, `/v1/completions`, `/v1/models`,
/// `/v1/embeddings`)
/// and llama.cpp's extras (`/health`, `/metrics`, `/tokenize`, `/detokenize`,
/// `/apply-template`, `/props`, `/slots`), in their shapes.
struct Routes {
    let host: ModelHost
    let metrics: ServerMetrics
    /// The `/v1/embeddings` model.
    let embeddings: EmbeddingService
    /// Largest request body accepted (413 beyond; ``ServerConfiguration/maxRequestBodyBytes``).
    let maxBodyBytes: Int

    func register(on router: Router<ServerRequestContext>) {
        router.get("/health") { _, _ -> Response in
            try health()
            return JSON.response(["status": "ok"])
        }
        // Uptime probes ask with HEAD: the same status, no body.
        router.head("/health") { _, _ -> Response in
            try health()
            return Response(status: .ok, headers: [.contentType: "application/json"])
        }
        router.get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        for path in ["/v1/models", "/models"] {
            router.get(RouterPath(path)) { _, _ -> Response in
                JSON.response(["object": "list", "data": Self.modelEntries(try host.ready())])
            }
            router.head(RouterPath(path)) { _, _ -> Response in
                _ = try host.ready()
                return Response(status: .ok, headers: [.contentType: "application/json"])
            }
            // OpenAI's `models.retrieve`: an adapter's entry by its name; any other name gives
            // the model's own entry, since any name a request carries serves the model.
            router.get(RouterPath(path + "/{id}")) { _, context -> Response in
                let served = try host.ready()
                let id = try context.parameters.require("id")
                let entries = Self.modelEntries(served)
                return JSON.response(entries.first(where: { $0["id"] as? String == id }) ?? entries[0])
            }
        }
        post(router, ["/v1/chat/completions", "/chat/completions"]) { served, body, connection in
            try await ChatCompletionHandler(served: served).handle(body: body, connection: connection)
        }
        post(router, ["/v1/completions", "/completions"]) { served, body, connection in
            try await CompletionHandler(served: served).handle(body: body, connection: connection)
        }
        post(router, ["/v1/embeddings", "/embeddings"]) { [embeddings] served, body, _ in
            try await EmbeddingsHandler(served: served, service: embeddings).handle(body: body)
        }
        router.get("/lora-adapters") { _, _ -> Response in
            JSON.response(Self.loraList(try host.ready()))
        }
        post(router, ["/lora-adapters"]) { served, body, _ in try setLoRAScales(served, body) }
        post(router, ["/tokenize"]) { served, body, _ in try tokenize(served, body) }
        post(router, ["/detokenize"]) { served, body, _ in try detokenize(served, body) }
        post(router, ["/apply-template"]) { served, body, _ in try applyTemplate(served, body) }
        registerIntrospection(on: router)
    }

    /// Throws the `/health` error while the model loads or after it failed to.
    private func health() throws {
        switch host.current {
        case .ready: return
        case .loading: throw APIError(.serviceUnavailable, "Loading model", type: "unavailable_error", code: "503", retryAfter: 1)
        case .failed(let message): throw APIError(.internalServerError, "the model failed to load: \(message)", type: "server_error", code: "500")
        }
    }

    /// The `/v1/models` entries: the model, then each LoRA module as a model whose parent is
    /// the base (vLLM's form).
    private static func modelEntries(_ served: ServedModel) -> [[String: Any]] {
        let c = served.model.config
        let base: [String: Any] = [
            "id": served.id, "object": "model", "created": served.created, "owned_by": "loom", "aliases": served.aliases,
            "meta": ["n_vocab": c.vocabularySize, "n_ctx_train": c.contextLength, "n_ctx": served.contextLength,
                     "n_embd": c.embeddingSize, "n_layer": c.layerCount, "architecture": c.architecture.name],
        ]
        let paths = Dictionary(uniqueKeysWithValues: served.scheduler.loraAdapters.map { ($0.id, $0.path) })
        let adapters: [[String: Any]] = served.adapterNames.sorted { $0.value < $1.value }.map { name, id in
            ["id": name, "object": "model", "created": served.created, "owned_by": "loom",
             "parent": served.id, "root": paths[id] ?? ""]
        }
        return [base] + adapters
    }

    /// Registers a POST route that reads the whole body and needs the loaded model.
    private func post(_ router: Router<ServerRequestContext>, _ paths: [String],
                      _ handler: @escaping @Sendable (ServedModel, Data, ClientConnection) async throws -> Response) {
        for path in paths {
            router.post(RouterPath(path)) { [maxBodyBytes] request, context -> Response in
                let served = try host.ready()
                // Bytes buffered for this request; once its body and parsed JSON are freed,
                // large blocks go back to the OS.
                var buffered = 0
                defer { MemoryReturn.afterRequest(bodyBytes: buffered) }
                return try await {
                    let body: Data
                    do {
                        body = try await Self.collect(request, limit: maxBodyBytes)
                    } catch let error as APIError where error.status == .contentTooLarge {
                        buffered = maxBodyBytes
                        throw error
                    }
                    buffered = body.count
                    return try await handler(served, body, context.connection)
                }()
            }
        }
    }

    /// The whole request body, at most `limit` bytes: a larger declared Content-Length is
    /// refused before reading (``BodyLimitMiddleware`` does so even earlier), and a body
    /// without one (chunked) is refused as soon as it grows past the limit, so no more than
    /// `limit` bytes are ever buffered.
    static func collect(_ request: Request, limit: Int) async throws -> Data {
        let declared = request.headers[.contentLength].flatMap { Int($0) }
        if let declared, declared > limit { throw APIError.bodyTooLarge(declared, limit: limit) }
        var data = Data()
        if let declared, declared > 0 { data.reserveCapacity(declared) }
        for try await chunk in request.body {
            guard chunk.readableBytes <= limit - data.count else { throw APIError.bodyTooLarge(nil, limit: limit) }
            chunk.withUnsafeReadableBytes { data.append(contentsOf: $0) }
        }
        return data
    }

    /// llama.cpp's `GET /lora-adapters`: `[{id, path, scale}]`.
    static func loraList(_ served: ServedModel) -> [[String: Any]] {
        served.scheduler.loraAdapters.map { ["id": $0.id, "path": $0.path, "scale": Double($0.scale)] }
    }

    /// llama.cpp's `POST /lora-adapters`: `[{id, scale}]` sets the scales requests run with
    /// unless they choose their own; adapters not listed keep theirs. Answers the new list.
    private func setLoRAScales(_ served: ServedModel, _ body: Data) throws -> Response {
        let raw: Any
        do { raw = try JSONSerialization.jsonObject(with: body) } catch {
            throw APIError.invalid("body", "expected a JSON array of {\"id\", \"scale\"}")
        }
        guard let list = raw as? [Any] else { throw APIError.invalid("body", "expected an array of {\"id\", \"scale\"}, got \(JSONFields.describe(raw))") }
        let known = Set(served.scheduler.loraAdapters.map(\.id))
        var scales: [Int: Float] = [:]
        for (i, item) in list.enumerated() {
            guard let entry = item as? [String: Any] else { throw APIError.invalid("[\(i)]", "expected an object {\"id\", \"scale\"}") }
            guard let id = entry["id"].flatMap(JSONFields.integer), known.contains(id) else {
                throw APIError.invalid("[\(i)].id", "no adapter with id \(entry["id"].map { "\($0)" } ?? "(missing)") (loaded: \(known.isEmpty ? "none" : known.sorted().map(String.init).joined(separator: ", ")))")
            }
            guard let scale = entry["scale"].flatMap(JSONFields.number), scale.isFinite, abs(scale) <= 1000 else {
                throw APIError.invalid("[\(i)].scale", "expected a number in [-1000, 1000]")
            }
            scales[id] = Float(scale)
        }
        do { try served.scheduler.setLoRAScales(scales) } catch { throw APIError.invalid("body", "\(error)") }
        return JSON.response(Self.loraList(served))
    }

    /// llama.cpp's `{content, add_special=false, with_pieces=false}` or vLLM's
    /// `{prompt, add_special_tokens}` (what lm-evaluation-harness's remote tokenizer sends) →
    /// `{"tokens": [ids], "count", "max_model_len"}`, or `{"tokens": [{"id", "piece"}]}`
    /// (piece as bytes when not valid UTF-8). Special-token text is parsed as those tokens.
    private func tokenize(_ served: ServedModel, _ body: Data) throws -> Response {
        let f = try JSONFields(body: body)
        try f.refuseUnknown(["model", "content", "prompt", "add_special", "add_special_tokens", "with_pieces"], endpoint: "/tokenize")
        guard let content = try f.string("content") ?? f.string("prompt") else { throw APIError.invalid("content", "is required (or prompt)") }
        let ids = served.tokenizer.encode(content, addSpecial: try f.bool("add_special") ?? f.bool("add_special_tokens") ?? false)
        if try f.bool("with_pieces") ?? false {
            return JSON.response(["tokens": ids.map { id -> [String: Any] in
                let bytes = served.tokenizer.tokenBytes(id)
                let piece: Any = String(validatingUTF8: bytes.map { CChar(bitPattern: $0) } + [0]).map { $0 as Any } ?? bytes.map { Int($0) }
                return ["id": id, "piece": piece]
            }])
        }
        return JSON.response(["tokens": ids, "count": ids.count, "max_model_len": served.contextLength])
    }

    /// `{tokens: [ids]}` → `{"content": text, "prompt": text}` (llama.cpp's and vLLM's key).
    private func detokenize(_ served: ServedModel, _ body: Data) throws -> Response {
        let f = try JSONFields(body: body)
        guard let raw = f.raw("tokens") else { throw APIError.invalid("tokens", "is required") }
        guard let array = raw as? [Any] else { throw APIError.invalid("tokens", "expected an array of token ids, got \(JSONFields.describe(raw))") }
        let vocabulary = served.model.config.vocabularySize
        let ids = try array.enumerated().map { i, item -> Int in
            guard let id = JSONFields.integer(item), id >= 0, id < vocabulary else {
                throw APIError.invalid("tokens[\(i)]", "expected a token id in 0..<\(vocabulary), got \(item)")
            }
            return id
        }
        let text = served.tokenizer.decode(ids)
        return JSON.response(["content": text, "prompt": text])
    }

    /// `{messages}` → `{"prompt": text}` (the chat template with the generation prompt).
    private func applyTemplate(_ served: ServedModel, _ body: Data) throws -> Response {
        let f = try JSONFields(body: body)
        guard f.raw("messages") is [Any] else { throw APIError.invalid("messages", "is required (an array of messages)") }
        guard let formatter = served.formatter else {
            throw APIError(.badRequest, "the model has no chat template", code: "no_chat_template")
        }
        let messages: [ChatMessage]
        do { messages = try ChatMessage.conversation(fromJSON: body) } catch { throw APIError.invalid("messages", "\(error)") }
        let tools = f.raw("tools").map { JSON.encode($0) }
        do {
            return JSON.response(["prompt": try formatter.render(messages, tools: tools, addGenerationPrompt: true)])
        } catch {
            throw APIError.invalid("messages", "the chat template failed: \(error)")
        }
    }
}
