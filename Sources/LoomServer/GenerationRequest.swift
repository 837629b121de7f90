import Foundation
import LoomGeneration
import LoomJinja
import LoomTokenizer

/// The fields `/v1/chat/completions` and `/v1/completions` share, checked and turned into
/// generation options. Every bad value is a 400 naming the field.
public struct GenerationRequest {
    public internal(set) var model: String?
    public internal(set) var options: GenerationOptions
    /// `max_completion_tokens`, `max_tokens` or `n_predict` as given; nil when none was.
    public internal(set) var requestedMaxTokens: Int?
    /// Number of choices (each an independent sequence in its own slot).
    public internal(set) var n: Int
    public internal(set) var stream: Bool
    public internal(set) var includeUsage: Bool
    /// Alternatives per token to report; nil when logprobs are off.
    public internal(set) var logprobs: Int?
    /// llama.cpp's per-request `"lora": [{"id": 0, "scale": 0.5}]`: adapter id → scale.
    public internal(set) var loraScales: [Int: Float]?
    /// llama.cpp's `cache_prompt` (default true): start from a slot's cached prompt prefix.
    public internal(set) var cachePrompt: Bool

    /// Fields both generation endpoints read (OpenAI's and llama.cpp's names).
    static let knownFields: Set<String> = [
        "model", "max_completion_tokens", "max_tokens", "n_predict", "n", "stream", "stream_options", "cache_prompt",
        "temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty", "repeat_penalty", "seed",
        "logit_bias", "logprobs", "lora", "grammar", "json_schema", "response_format", "stop",
    ]

    /// - Parameters:
    ///   - defaultMaxTokens: used when neither max_tokens nor max_completion_tokens is given.
    ///   - chatLogprobs: chat shape (`logprobs: bool`, `top_logprobs: int`) instead of the
    ///     legacy `logprobs: int`.
    ///   - generationDefaults: the model's `generation_config.json`: its `temperature`
    ///     (0 when `do_sample` is false), `top_p`, `top_k` and `repetition_penalty` apply when
    ///     the request leaves them out, as transformers and vLLM apply them; its
    ///     `max_new_tokens` replaces `defaultMaxTokens` (a chat answer's default is then the
    ///     smaller of it and the rest of the context).
    init(_ f: JSONFields, vocabularySize: Int, defaultMaxTokens: Int, chatLogprobs: Bool,
         generationDefaults: HFGenerationConfig? = nil) throws {
        model = try f.string("model")
        let maxTokens = try f.int("max_completion_tokens") ?? f.int("max_tokens") ?? f.int("n_predict")
        if let maxTokens, maxTokens < 0 {
            let field = f.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens"
            throw APIError.invalid(field, "must be ≥ 0, got \(maxTokens)")
        }
        requestedMaxTokens = maxTokens
        n = try f.int("n") ?? 1
        guard (1...16).contains(n) else { throw APIError.invalid("n", "must be between 1 and 16, got \(n)") }
        stream = try f.bool("stream") ?? false
        includeUsage = try f.object("stream_options")?.bool("include_usage") ?? false
        cachePrompt = try f.bool("cache_prompt") ?? true

        var sampling = SamplingParameters()
        if let d = generationDefaults {
            if d.doSample == false { sampling.temperature = 0 } else if let t = d.temperature { sampling.temperature = Float(t) }
            if let p = d.topP { sampling.topP = Float(p) }
            if let k = d.topK { sampling.topK = k }
            if let r = d.repetitionPenalty { sampling.repetitionPenalty = Float(r) }
        }
        if let t = try f.double("temperature") {
            guard t >= 0, t <= 2 else { throw APIError.invalid("temperature", "must be in [0, 2], got \(t)") }
            sampling.temperature = Float(t)
        }
        if let p = try f.double("top_p") {
            guard p > 0, p <= 1 else { throw APIError.invalid("top_p", "must be in (0, 1], got \(p)") }
            sampling.topP = Float(p)
        }
        if let k = try f.int("top_k") {
            guard k >= -1 else { throw APIError.invalid("top_k", "must be ≥ -1 (0 or -1 = off), got \(k)") }
            sampling.topK = k
        }
        if let m = try f.double("min_p") {
            guard m >= 0, m <= 1 else { throw APIError.invalid("min_p", "must be in [0, 1], got \(m)") }
            sampling.minP = Float(m)
        }
        if let v = try f.double("presence_penalty") {
            guard v >= -2, v <= 2 else { throw APIError.invalid("presence_penalty", "must be in [-2, 2], got \(v)") }
            sampling.presencePenalty = Float(v)
        }
        if let v = try f.double("frequency_penalty") {
            guard v >= -2, v <= 2 else { throw APIError.invalid("frequency_penalty", "must be in [-2, 2], got \(v)") }
            sampling.frequencyPenalty = Float(v)
        }
        if let r = try f.double("repeat_penalty") {
            guard r > 0 else { throw APIError.invalid("repeat_penalty", "must be > 0, got \(r)") }
            sampling.repetitionPenalty = Float(r)
        }
        if let seed = try f.int("seed") {
            sampling.seed = UInt64(bitPattern: Int64(seed))
        }
        if f.has("logit_bias") { sampling.logitBias = try Self.logitBias(f, vocabularySize: vocabularySize) }

        if chatLogprobs {
            let wanted = try f.bool("logprobs") ?? false
            let top = try f.int("top_logprobs")
            if let top {
                guard (0...20).contains(top) else { throw APIError.invalid("top_logprobs", "must be between 0 and 20, got \(top)") }
                guard wanted else { throw APIError.invalid("top_logprobs", "requires 'logprobs': true") }
            }
            logprobs = wanted ? (top ?? 0) : nil
        } else {
            if let l = try f.int("logprobs") {
                guard (0...20).contains(l) else { throw APIError.invalid("logprobs", "must be between 0 and 20, got \(l)") }
                logprobs = l
            }
        }
        if let raw = f.raw("lora") {
            guard let list = raw as? [Any] else { throw APIError.invalid("lora", "expected an array of {\"id\", \"scale\"}, got \(JSONFields.describe(raw))") }
            var scales: [Int: Float] = [:]
            for (i, item) in list.enumerated() {
                guard let entry = item as? [String: Any] else { throw APIError.invalid("lora[\(i)]", "expected an object {\"id\", \"scale\"}") }
                guard let id = entry["id"].flatMap(JSONFields.integer), id >= 0 else {
                    throw APIError.invalid("lora[\(i)].id", "expected a non-negative adapter id")
                }
                guard let scale = entry["scale"].flatMap(JSONFields.number), scale.isFinite, abs(scale) <= 1000 else {
                    throw APIError.invalid("lora[\(i)].scale", "expected a number in [-1000, 1000]")
                }
                guard scales[id] == nil else { throw APIError.invalid("lora[\(i)].id", "adapter \(id) is listed twice") }
                scales[id] = Float(scale)
            }
            loraScales = scales
        }
        let grammar = try Self.grammar(f)
        var stops = try f.strings("stop") ?? []
        // OpenAI's limit; past it a client's request would be answered under other rules
        // than the API it was written for.
        guard stops.count <= 4 else { throw APIError.invalid("stop", "at most 4 stop sequences, got \(stops.count)") }
        stops.removeAll { $0.isEmpty }
        // Fields of OpenAI's API that Loom does not implement: refused by name rather than ignored.
        if let bestOf = try f.int("best_of"), bestOf != 1 {
            throw APIError.invalid("best_of", "is not supported (only 1); ask for n choices instead")
        }
        if let suffix = try f.string("suffix"), !suffix.isEmpty {
            throw APIError.invalid("suffix", "is not supported (no fill-in-the-middle completions)")
        }
        // Logprobs of the chosen token need the top-k pass; at least one alternative is
        // computed and the extra ones are trimmed when answering.
        options = GenerationOptions(maxTokens: maxTokens ?? generationDefaults?.maxNewTokens ?? defaultMaxTokens, sampling: sampling,
                                    stopStrings: stops, topLogprobs: logprobs.map { max($0, 1) } ?? 0,
                                    grammar: grammar)
    }

    /// `logit_bias` in OpenAI's object form (`{"15043": -100}`) or llama.cpp's array form
    /// (`[[15043, -100], [29871, false]]`, `false` banning the token). Biases are clamped to
    /// OpenAI's [-100, 100], and -100 bans the token.
    static func logitBias(_ f: JSONFields, vocabularySize: Int) throws -> [Int: Float] {
        var map: [Int: Float] = [:]
        func add(_ id: Int?, _ value: Any, field: String, key: String) throws {
            guard let id, id >= 0, id < vocabularySize else {
                throw APIError.invalid(field, "'\(key)' is not a token id in 0..<\(vocabularySize)")
            }
            if JSONFields.isBool(value), value as? Bool == false {
                map[id] = -.infinity
                return
            }
            guard let v = JSONFields.number(value), v.isFinite else {
                throw APIError.invalid(field, "expected a number or false, got \(JSONFields.describe(value))")
            }
            let clamped = max(-100, min(100, v))
            map[id] = clamped <= -100 ? -.infinity : Float(clamped)
        }
        switch f.raw("logit_bias") {
        case let list as [Any]:
            for (i, item) in list.enumerated() {
                let field = "logit_bias[\(i)]"
                guard let pair = item as? [Any], pair.count == 2 else {
                    throw APIError.invalid(field, "expected a [token id, bias] pair, got \(JSONFields.describe(item))")
                }
                if pair[0] is String {
                    throw APIError.invalid(field, "token text is not supported in logit_bias; give token ids (POST /tokenize finds them)")
                }
                try add(JSONFields.integer(pair[0]), pair[1], field: field, key: "\(pair[0])")
            }
        case .some:
            let bias = try f.object("logit_bias")!
            for (key, value) in bias.object {
                try add(Int(key), value, field: "logit_bias.\(key)", key: key)
            }
        case .none:
            break
        }
        return map
    }

    /// The grammar a request asks for: llama.cpp's `grammar` (GBNF) or `json_schema` field,
    /// or OpenAI's `response_format` (`text`, `json_object` — with llama.cpp's optional
    /// `schema` — or `json_schema` with `json_schema.schema`). A grammar or schema that does
    /// not compile is a 400 naming the field and the problem; so is asking for two at once.
    static func grammar(_ f: JSONFields) throws -> Grammar? {
        var found: [(field: String, grammar: Grammar)] = []
        func compile(_ field: String, _ make: () throws -> Grammar) throws {
            do {
                found.append((field, try make()))
            } catch let error as APIError {
                throw error
            } catch {
                throw APIError.invalid(field, "\(error)")
            }
        }
        if let text = try f.string("grammar") {
            try compile("grammar") { try Grammar(gbnf: text) }
        }
        if let schema = f.value("json_schema") {
            try compile("json_schema") { try JSONSchemaGrammar.grammar(for: schema) }
        }
        if let format = try f.object("response_format") {
            guard let type = try format.string("type") else {
                throw APIError.invalid("response_format.type", "is required (text, json_object or json_schema)")
            }
            switch type {
            case "text":
                break
            case "json_object":
                if let schema = format.value("schema") {
                    try compile("response_format.schema") { try JSONSchemaGrammar.grammar(for: schema) }
                } else {
                    found.append(("response_format", JSONSchemaGrammar.anyObject))
                }
            case "json_schema":
                guard let spec = try format.object("json_schema") else {
                    throw APIError.invalid("response_format.json_schema", "is required when type is json_schema")
                }
                _ = try spec.bool("strict")
                _ = try spec.string("name")
                guard let schema = spec.value("schema") else {
                    throw APIError.invalid("response_format.json_schema.schema", "is required (the JSON Schema to follow)")
                }
                try compile("response_format.json_schema.schema") { try JSONSchemaGrammar.grammar(for: schema) }
            default:
                throw APIError.invalid("response_format.type", "must be text, json_object or json_schema, got '\(type)'")
            }
        }
        guard found.count <= 1 else {
            throw APIError.invalid(found[1].field, "cannot be combined with \(found[0].field); give one constraint")
        }
        return found.first?.grammar
    }

    /// Options of choice `index`: with a seed, each choice gets its own (seed + index) so
    /// `n > 1` gives different samples that are still reproducible.
    func options(forChoice index: Int) -> GenerationOptions {
        var o = options
        if let seed = o.sampling.seed { o.sampling.seed = seed &+ UInt64(index) }
        return o
    }
}
