import Foundation
import Hummingbird
import LoomGeneration

/// Introspection routes: llama-server's `GET /props` (the server's settings and the defaults
/// a request gets) and `GET /slots` (what each KV-cache slot is doing), in the shapes
/// llama.cpp's web UI and clients read (tools/server/server.cpp, `handle_props`,
/// `handle_slots`, `server_slot::to_json`); and vLLM's `GET /tokenizer_info`, which
/// lm-evaluation-harness's remote tokenizer reads instead of downloading one.
extension Routes {
    func registerIntrospection(on router: Router<ServerRequestContext>) {
        router.get("/props") { _, _ -> Response in
            JSON.response(Self.props(try host.ready()))
        }
        router.get("/slots") { _, _ -> Response in
            JSON.response(Self.slots(try host.ready()))
        }
        router.get("/tokenizer_info") { _, _ -> Response in
            JSON.response(Self.tokenizerInfo(try host.ready()))
        }
    }

    /// The sampling settings a request gets for every field it leaves out (the model's
    /// `generation_config.json` applied), in llama.cpp's `params` shape.
    static func defaultParameters(_ served: ServedModel) -> GenerationOptions {
        // Decoding an empty request applies exactly the defaults the endpoints apply.
        let request = try? APIRequestDecoder.completion(Data(#"{"prompt": "x"}"#.utf8), vocabularySize: served.model.config.vocabularySize,
                                                        generationDefaults: served.model.generationDefaults)
        var options = request?.generation.options ?? GenerationOptions()
        if served.model.generationDefaults?.maxNewTokens == nil { options.maxTokens = -1 }
        return options
    }

    /// llama.cpp's `params` object of a slot or of the defaults.
    static func parameters(_ options: GenerationOptions) -> [String: Any] {
        let s = options.sampling
        // A Float as the decimal it was written as (0.95, not 0.949999988079071).
        func decimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }
        return [
            "n_predict": options.maxTokens, "temperature": decimal(s.temperature), "top_k": s.topK, "top_p": decimal(s.topP),
            "min_p": decimal(s.minP), "repeat_penalty": decimal(s.repetitionPenalty), "repeat_last_n": s.penaltyLastN,
            "presence_penalty": decimal(s.presencePenalty), "frequency_penalty": decimal(s.frequencyPenalty),
            // llama.cpp reports an unset seed as LLAMA_DEFAULT_SEED (0xFFFFFFFF).
            "seed": s.seed.map { Int(truncatingIfNeeded: $0) } ?? 0xFFFF_FFFF,
            "stop": options.stopStrings, "logit_bias": s.logitBias.sorted { $0.key < $1.key }.map { [$0.key, $0.value == -.infinity ? false as Any : decimal($0.value) as Any] },
            "grammar": options.grammar == nil ? "" : "(set)",
        ]
    }

    static func props(_ served: ServedModel) -> [String: Any] {
        let tokenizer = served.model.tokenizer
        return [
            "default_generation_settings": ["n_ctx": served.contextLength, "params": parameters(defaultParameters(served))],
            "total_slots": served.scheduler.slotCount,
            "model_path": served.model.path,
            "model_alias": served.id,
            "chat_template": served.formatter?.templateSource ?? "",
            "bos_token": tokenizer.bosID.map { tokenizer.piece($0) } ?? "",
            "eos_token": tokenizer.eosID.map { tokenizer.piece($0) } ?? "",
            "modalities": ["vision": false, "audio": false],
            "build_info": "loom (\(Admission.fingerprint))",
            "speculative": served.scheduler.speculative != nil,
        ]
    }

    static func slots(_ served: ServedModel) -> [[String: Any]] {
        served.scheduler.slotSnapshots.map { snapshot in
            var object: [String: Any] = [
                "id": snapshot.id, "n_ctx": served.contextLength, "speculative": served.scheduler.speculative != nil,
                "is_processing": snapshot.job != nil,
            ]
            if let job = snapshot.job {
                let decoded = job.decodedTokens
                object["params"] = parameters(job.options)
                object["n_prompt_tokens"] = job.prompt.count
                object["n_cached_tokens"] = job.cachedPromptTokens
                object["next_token"] = ["has_next_token": !job.hasEnded, "n_decoded": decoded,
                                        "n_remain": max(0, job.options.maxTokens - decoded)]
            } else {
                object["n_cached_tokens"] = snapshot.cachedPromptTokens
            }
            return object
        }
    }

    /// vLLM's `/tokenizer_info` (its tokenizer_config-like dict): the special tokens' text,
    /// the chat template and the context. lm-evaluation-harness (`tokenizer_backend=remote`)
    /// needs `eos_token` and then encodes it with `/tokenize` to find its id.
    static func tokenizerInfo(_ served: ServedModel) -> [String: Any] {
        let tokenizer = served.model.tokenizer
        func text(_ id: Int?) -> Any { id.map { tokenizer.piece($0) as Any } ?? NSNull() }
        return [
            "tokenizer_class": "LoomBPETokenizer",
            "bos_token": text(tokenizer.bosID), "eos_token": text(tokenizer.eosID), "unk_token": text(tokenizer.unknownID),
            "pad_token": text(tokenizer.eosID),
            "add_bos_token": tokenizer.addsBOS, "add_eos_token": tokenizer.addsEOS,
            "chat_template": served.formatter?.templateSource ?? NSNull(),
            "model_max_length": served.contextLength, "vocab_size": served.model.config.vocabularySize,
        ]
    }
}
