import Foundation
import LoomGeneration
import LoomModels
import LoomTokenizer
import XCTest
@testable import LoomServer

/// Issue 26 item 5, the server details clients rely on: any model name, aliases, unknown
/// fields refused by name, `logit_bias` in both forms, `max_tokens` within the context,
/// `timings`, `/props`, `/slots`, `generation_config.json` defaults and `--chat-template-file`.
final class ServerDetailsTests: XCTestCase {
    var server: TestServer!
    var client: RawHTTPClient { server.client }
    let auth = TestServer.auth

    override func setUpWithError() throws {
        server = try TestServer.shared.get()
    }

    /// Any `model` serves the loaded model, as llama-server answers; the id reported is the alias.
    func testAnyModelNameServesTheModel() throws {
        for name in ["gpt-4", "text-davinci-003", "smol", ""] {
            let reply = try client.post("/v1/chat/completions", ["model": name, "messages": [["role": "user", "content": "Hi"]],
                                                                 "max_tokens": 2, "temperature": 0], headers: auth)
            XCTAssertEqual(reply.status, 200, "\(name): \(reply.text)")
            XCTAssertEqual(try reply.json()["model"] as? String, "smol")
        }
    }

    /// Fields the server does not implement are a 400 naming them; OpenAI's bookkeeping
    /// fields (`user`, `metadata`, `store`, `service_tier`) are accepted and ignored.
    func testUnknownFieldsAreRefusedByName() throws {
        let chat: [String: Any] = ["messages": [["role": "user", "content": "Hi"]], "max_tokens": 1]
        let completion: [String: Any] = ["prompt": "Hi", "max_tokens": 1]
        for (field, value) in [("mirostat", 2 as Any), ("typical_p", 0.9), ("functions", [Any]()), ("reasoning_effort", "low")] {
            assertError(try client.post("/v1/chat/completions", chat.merging([field: value]) { $1 }, headers: auth), 400, param: field)
            assertError(try client.post("/v1/completions", completion.merging([field: value]) { $1 }, headers: auth), 400, param: field)
        }
        assertError(try client.post("/v1/completions", completion.merging(["messages": []]) { $1 }, headers: auth), 400, param: "messages")
        assertError(try client.post("/v1/chat/completions", chat.merging(["echo": true]) { $1 }, headers: auth), 400, param: "echo")
        let harmless: [String: Any] = ["user": "u-1", "metadata": ["k": "v"], "store": false, "service_tier": "auto"]
        XCTAssertEqual(try client.post("/v1/chat/completions", chat.merging(harmless) { $1 }, headers: auth).status, 200)
        XCTAssertEqual(try client.post("/v1/completions", completion.merging(harmless) { $1 }, headers: auth).status, 200)
    }

    /// llama.cpp's array form `[[id, bias]]` (with `false` banning) does what the object form does.
    func testLogitBiasArrayForm() throws {
        let base: [String: Any] = ["prompt": "The capital of France is", "max_tokens": 1, "temperature": 0, "logprobs": 1]
        func first(_ extra: [String: Any]) throws -> String {
            let reply = try client.post("/v1/completions", base.merging(extra) { $1 }, headers: auth)
            XCTAssertEqual(reply.status, 200, reply.text)
            return try XCTUnwrap(((reply.json()["choices"] as? [[String: Any]])?.first)?["text"] as? String)
        }
        let greedy = try first([:])
        let tokens = try client.post("/tokenize", ["content": greedy], headers: auth).json()["tokens"] as? [Int]
        let id = try XCTUnwrap(tokens?.first)
        let banned = try first(["logit_bias": ["\(id)": -100]])
        XCTAssertNotEqual(banned, greedy)
        XCTAssertEqual(try first(["logit_bias": [[id, false]]]), banned)
        XCTAssertEqual(try first(["logit_bias": [[id, -100]]]), banned)
        assertError(try client.post("/v1/completions", base.merging(["logit_bias": [[id]]]) { $1 }, headers: auth), 400, param: "logit_bias[0]")
        assertError(try client.post("/v1/completions", base.merging(["logit_bias": [["Paris", 5]]]) { $1 }, headers: auth), 400, param: "logit_bias[0]")
        assertError(try client.post("/v1/completions", base.merging(["logit_bias": [[49152, 1]]]) { $1 }, headers: auth), 400, param: "logit_bias[0]")
        assertError(try client.post("/v1/completions", base.merging(["logit_bias": [[1, "x"]]]) { $1 }, headers: auth), 400, param: "logit_bias[0]")
    }

    /// A `max_tokens` the context cannot hold is a 400 (OpenAI's rule), not a silent clamp.
    func testMaxTokensBeyondTheContextIsRefused() throws {
        let reply = try client.post("/v1/completions", ["prompt": "Hello there", "max_tokens": 300], headers: auth)
        assertError(reply, 400, param: "max_tokens", code: "context_length_exceeded")
        XCTAssertTrue(reply.text.contains("at most"), reply.text)
        let chat = try client.post("/v1/chat/completions", ["messages": [["role": "user", "content": "Hi"]], "max_completion_tokens": 256],
                                   headers: auth)
        assertError(chat, 400, param: "max_tokens", code: "context_length_exceeded")
        XCTAssertEqual(try client.post("/v1/completions", ["prompt": "Hello there", "max_tokens": 250], headers: auth).status, 200)
    }

    /// llama-server's `timings`: token counts that match `usage`, and positive times; in a
    /// stream, on each choice's last chunk.
    func testTimings() throws {
        let reply = try client.post("/v1/completions", ["prompt": "Count: one two three", "max_tokens": 5, "temperature": 0,
                                                        "cache_prompt": false], headers: auth).json()
        let timings = try XCTUnwrap(reply["timings"] as? [String: Any])
        let usage = try XCTUnwrap(reply["usage"] as? [String: Any])
        XCTAssertEqual(timings["prompt_n"] as? Int, usage["prompt_tokens"] as? Int)
        XCTAssertEqual(timings["predicted_n"] as? Int, usage["completion_tokens"] as? Int)
        XCTAssertGreaterThan(timings["prompt_ms"] as? Double ?? 0, 0)
        XCTAssertGreaterThan(timings["predicted_ms"] as? Double ?? 0, 0)
        XCTAssertGreaterThan(timings["predicted_per_second"] as? Double ?? 0, 0)
        XCTAssertNil(timings["draft_n"], "no drafts without --lookup")

        let stream = try client.post("/v1/chat/completions", ["messages": [["role": "user", "content": "Hi"]], "max_tokens": 3,
                                                              "stream": true, "temperature": 0], headers: auth)
        let events = stream.text.components(separatedBy: "\n").filter { $0.hasPrefix("data: {") }
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8)) as? [String: Any] }
        let last = try XCTUnwrap(events.last(where: { (($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String) != nil }))
        XCTAssertEqual((last["timings"] as? [String: Any])?["predicted_n"] as? Int, 3)
        XCTAssertEqual(events.filter { $0["timings"] != nil }.count, 1)
    }

    /// `/props`: the slots, context and request defaults; `/slots`: one entry per slot.
    func testPropsAndSlots() throws {
        let props = try client.get("/props", headers: auth).json()
        XCTAssertEqual(props["total_slots"] as? Int, 4)
        XCTAssertEqual(props["model_alias"] as? String, "smol")
        let defaults = try XCTUnwrap(props["default_generation_settings"] as? [String: Any])
        XCTAssertEqual(defaults["n_ctx"] as? Int, 256)
        let params = try XCTUnwrap(defaults["params"] as? [String: Any])
        XCTAssertEqual(params["temperature"] as? Double, 0.8)
        XCTAssertEqual(params["top_k"] as? Int, 40)
        XCTAssertEqual(params["top_p"] as? Double, 0.95)
        XCTAssertTrue((props["chat_template"] as? String ?? "").contains("im_start"))
        XCTAssertEqual(props["eos_token"] as? String, "<|im_end|>")
        XCTAssertEqual(try client.get("/props").status, 401, "the API key guards /props")

        let slots = try client.request("GET", "/slots", headers: auth)
        XCTAssertEqual(slots.status, 200, slots.text)
        let list = try XCTUnwrap(JSONSerialization.jsonObject(with: slots.body) as? [[String: Any]])
        XCTAssertEqual(list.map { $0["id"] as? Int }, [0, 1, 2, 3])
        XCTAssertTrue(list.allSatisfy { $0["n_ctx"] as? Int == 256 && $0["is_processing"] is Bool })
    }

    /// `n > 1` evaluates the prompt once: the other choices copy its keys and values and
    /// evaluate only the last prompt token. With batch-invariant kernels each choice then gets
    /// exactly the logits of a request on its own, so greedy choices equal the `n = 1` answer.
    func testChoicesShareThePromptEvaluation() async throws {
        var configuration = ServerConfiguration(port: 0, parallel: 3, contextLength: 128, threads: 2, kernelOptions: .default)
        configuration.embeddingModel = .none
        let shared = try TestServer(configuration: configuration)
        func counter(_ name: String) throws -> Int {
            let text = try shared.client.get("/metrics").text
            let line = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix(name + " ") }, "\(name) in \(text)")
            return Int(Double(line.split(separator: " ").last!)!)
        }
        let prompt = "List three colours of the rainbow, separated by commas:"
        let single = try shared.client.post("/v1/completions", ["prompt": prompt, "max_tokens": 8, "temperature": 0, "cache_prompt": false]).json()
        let expected = try XCTUnwrap(((single["choices"] as? [[String: Any]])?.first)?["text"] as? String)
        let promptTokens = try XCTUnwrap((single["usage"] as? [String: Any])?["prompt_tokens"] as? Int)

        let evaluatedBefore = try counter("loom:prompt_tokens_total"), sharedBefore = try counter("loom:prompt_tokens_shared_total")
        let reply = try shared.client.post("/v1/completions", ["prompt": prompt, "max_tokens": 8, "temperature": 0, "n": 3,
                                                               "cache_prompt": false])
        XCTAssertEqual(reply.status, 200, reply.text)
        let texts = try XCTUnwrap(reply.json()["choices"] as? [[String: Any]]).map { $0["text"] as? String }
        XCTAssertEqual(texts, [expected, expected, expected])
        XCTAssertEqual(try counter("loom:prompt_tokens_total") - evaluatedBefore, promptTokens + 2, "the prompt once, then one token per other choice")
        XCTAssertEqual(try counter("loom:prompt_tokens_shared_total") - sharedBefore, 2 * (promptTokens - 1))

        // Sampled choices still differ (each has its own seed), from the same shared prompt.
        let sampled = try shared.client.post("/v1/completions", ["prompt": prompt, "max_tokens": 12, "temperature": 1.0, "n": 3, "seed": 5]).json()
        let sampledTexts = try XCTUnwrap(sampled["choices"] as? [[String: Any]]).compactMap { $0["text"] as? String }
        XCTAssertEqual(sampledTexts.count, 3)
        XCTAssertGreaterThan(Set(sampledTexts).count, 1, "\(sampledTexts)")
        await shared.stop()
    }

    /// lm-evaluation-harness's remote tokenizer (`tokenizer_backend=remote`, lm_eval/models/
    /// api_models.py `RemoteTokenizer`): `GET /tokenizer_info` must carry `eos_token`; it then
    /// finds the id with vLLM's `/tokenize` shape and decodes with `/detokenize`'s `prompt`.
    func testRemoteTokenizerEndpointsForLMEval() throws {
        let info = try client.get("/tokenizer_info", headers: auth).json()
        let eos = try XCTUnwrap(info["eos_token"] as? String)
        XCTAssertEqual(eos, "<|im_end|>")
        XCTAssertEqual(info["model_max_length"] as? Int, 256)
        XCTAssertTrue((info["chat_template"] as? String ?? "").contains("im_start"))
        let model = try XCTUnwrap(server.server.servedModel).model
        let encoded = try client.post("/tokenize", ["prompt": eos, "add_special_tokens": false], headers: auth).json()
        XCTAssertEqual(encoded["tokens"] as? [Int], [try XCTUnwrap(model.tokenizer.eosID)])
        let text = "Paris is the capital of France."
        let ids = try XCTUnwrap(try client.post("/tokenize", ["prompt": text, "add_special_tokens": false], headers: auth).json()["tokens"] as? [Int])
        XCTAssertEqual(ids, model.tokenizer.encode(text, addSpecial: false))
        let decoded = try client.post("/detokenize", ["tokens": ids], headers: auth).json()
        XCTAssertEqual(decoded["prompt"] as? String, text)
        XCTAssertEqual(decoded["content"] as? String, text, "llama.cpp's key stays")
        assertError(try client.post("/tokenize", ["prompt": "x", "messages": []], headers: auth), 400, param: "messages")
    }

    /// `generation_config.json` values apply to the sampling fields a request leaves out;
    /// the request's own values win; `do_sample: false` means greedy.
    func testGenerationConfigDefaults() throws {
        let config = try HFGenerationConfig(bytes: Array(#"{"do_sample": true, "temperature": 0.6, "top_p": 0.9, "top_k": 20, "repetition_penalty": 1.05, "max_new_tokens": 77}"#.utf8))
        let plain = try APIRequestDecoder.completion(Data(#"{"prompt": "x"}"#.utf8), vocabularySize: 100, generationDefaults: config)
        let s = plain.generation.options.sampling
        XCTAssertEqual([s.temperature, s.topP, s.repetitionPenalty], [0.6, 0.9, 1.05])
        XCTAssertEqual(s.topK, 20)
        XCTAssertEqual(plain.generation.options.maxTokens, 77)
        let own = try APIRequestDecoder.chatCompletion(Data(#"{"messages": [{"role": "user", "content": "x"}], "temperature": 0.2, "top_k": 5, "max_tokens": 9}"#.utf8),
                                                       vocabularySize: 100, generationDefaults: config)
        XCTAssertEqual(own.generation.options.sampling.temperature, 0.2)
        XCTAssertEqual(own.generation.options.sampling.topK, 5)
        XCTAssertEqual(own.generation.options.sampling.topP, 0.9)
        XCTAssertEqual(own.generation.options.maxTokens, 9)
        let greedy = try HFGenerationConfig(bytes: Array(#"{"do_sample": false, "temperature": 0.6}"#.utf8))
        let g = try APIRequestDecoder.completion(Data(#"{"prompt": "x"}"#.utf8), vocabularySize: 100, generationDefaults: greedy)
        XCTAssertEqual(g.generation.options.sampling.temperature, 0)
        XCTAssertEqual(g.generation.options.maxTokens, 16, "no max_new_tokens: the endpoint's default")
    }

    /// `--chat-template-file`: the given template renders chats; one that does not parse
    /// fails the load with the parser's message instead of serving the model's own.
    func testChatTemplateFile() async throws {
        var configuration = ServerConfiguration(port: 0, parallel: 1, contextLength: 64, threads: 1)
        configuration.chatTemplate = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}[assistant] "
        configuration.additionalAliases = ["tiny"]
        let custom = try TestServer(configuration: configuration)
        let prompt = try custom.client.post("/apply-template", ["messages": [["role": "user", "content": "Hi"]]]).json()["prompt"] as? String
        XCTAssertEqual(prompt, "[user] Hi\n[assistant] ")
        let models = try custom.client.get("/v1/models").json()
        XCTAssertEqual(((models["data"] as? [[String: Any]])?.first)?["aliases"] as? [String], ["tiny"])
        await custom.stop()

        configuration.chatTemplate = "{% for m in messages %}"
        let path = try TestServer.modelPath()
        let broken = LoomHTTPServer(configuration: configuration) { try LanguageModel(path: path) }
        let task = Task.detached { try await broken.run(handleSignals: false) }
        let port = try XCTUnwrap(broken.listeningPort(timeout: 30))
        let probe = RawHTTPClient(port: port)
        XCTAssertTrue(TestServer.eventually(timeout: 30) { (try? probe.get("/health"))?.status == 500 })
        let health = try probe.get("/health")
        XCTAssertTrue(health.text.contains("failed to load"), health.text)
        task.cancel()
        _ = try? await task.value
    }
}
