import Foundation
import XCTest
import LoomKernels
import LoomGeneration
import LoomKernels
import LoomModels
@testable import LoomServer

/// Chat and text completions over real HTTP, checked against the single-sequence
/// `Generator`/`InferenceSession` path (an implementation independent of the batched one).
final class CompletionEndpointTests: XCTestCase {
    var server: TestServer!
    var client: RawHTTPClient { server.client }
    let auth = TestServer.auth

    override func setUpWithError() throws {
        server = try TestServer.shared.get()
    }

    /// Greedy continuation of `prompt` through the plain Generator (context 256 like the server).
    func referenceGreedy(_ prompt: [Int], maxTokens: Int, options: KernelOptions = .default) throws -> GenerationResult {
        let model = try XCTUnwrap(server.server.servedModel).model
        let generator = Generator(session: try model.makeSession(contextLength: 256, pool: ThreadPool(threadCount: 2), options: options))
        return try generator.generate(prompt: prompt, options: GenerationOptions(maxTokens: maxTokens, sampling: .greedy))
    }

    func chatPromptTokens(_ text: String) throws -> [Int] {
        let served = try XCTUnwrap(server.server.servedModel)
        let rendered = try XCTUnwrap(served.formatter).render([.user(text)], addGenerationPrompt: true)
        return served.tokenizer.encode(rendered, addSpecial: false)
    }

    func testChatNonStreamingMatchesGenerator() throws {
        let reply = try client.post("/v1/chat/completions", [
            "model": "smol", "messages": [["role": "user", "content": "What is the capital of France?"]],
            "max_tokens": 8, "temperature": 0,
        ], headers: auth)
        XCTAssertEqual(reply.status, 200, reply.text)
        let json = try reply.json()
        XCTAssertEqual(json["object"] as? String, "chat.completion")
        let choice = try XCTUnwrap((json["choices"] as? [[String: Any]])?.first)
        let message = try XCTUnwrap(choice["message"] as? [String: Any])
        XCTAssertEqual(message["role"] as? String, "assistant")
        let prompt = try chatPromptTokens("What is the capital of France?")
        let expected = try referenceGreedy(prompt, maxTokens: 8)
        XCTAssertEqual(message["content"] as? String, expected.text)
        XCTAssertEqual(choice["finish_reason"] as? String, expected.finishReason == .length ? "length" : "stop")
        let usage = try XCTUnwrap(json["usage"] as? [String: Any])
        XCTAssertEqual(usage["prompt_tokens"] as? Int, prompt.count)
        XCTAssertEqual(usage["completion_tokens"] as? Int, expected.tokens.count)
        XCTAssertEqual(usage["total_tokens"] as? Int, prompt.count + expected.tokens.count)
    }

    func testChatStreamingMatchesNonStreaming() throws {
        let body: [String: Any] = [
            "messages": [["role": "user", "content": "Name three colors."]], "max_tokens": 10, "temperature": 0,
            "logprobs": true, "top_logprobs": 2,
        ]
        let whole = try client.post("/v1/chat/completions", body, headers: auth).json()
        var streamed = body
        streamed["stream"] = true
        streamed["stream_options"] = ["include_usage": true]
        let reply = try client.post("/v1/chat/completions", streamed, headers: auth)
        XCTAssertEqual(reply.status, 200)
        XCTAssertEqual(reply.headers["content-type"], "text/event-stream")
        let events = reply.events
        XCTAssertEqual(events.last, "[DONE]")
        let chunks = try events.dropLast().map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertGreaterThanOrEqual(chunks.count, 3)
        let firstDelta = (chunks[0]["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any]
        XCTAssertEqual(firstDelta?["role"] as? String, "assistant")
        var text = ""
        var finish: String?
        var logprobCount = 0
        for chunk in chunks.dropLast() {
            XCTAssertEqual(chunk["object"] as? String, "chat.completion.chunk")
            XCTAssertTrue(chunk["usage"] is NSNull, "usage must be null on content chunks")
            let choice = try XCTUnwrap((chunk["choices"] as? [[String: Any]])?.first)
            text += ((choice["delta"] as? [String: Any])?["content"] as? String) ?? ""
            if let f = choice["finish_reason"] as? String { finish = f }
            logprobCount += ((choice["logprobs"] as? [String: Any])?["content"] as? [Any])?.count ?? 0
        }
        let wholeChoice = try XCTUnwrap((whole["choices"] as? [[String: Any]])?.first)
        XCTAssertEqual(text, (wholeChoice["message"] as? [String: Any])?["content"] as? String)
        XCTAssertEqual(finish, wholeChoice["finish_reason"] as? String)
        let wholeLogprobs = try XCTUnwrap((wholeChoice["logprobs"] as? [String: Any])?["content"] as? [[String: Any]])
        XCTAssertEqual(logprobCount, wholeLogprobs.count)
        XCTAssertEqual((wholeLogprobs.first?["top_logprobs"] as? [Any])?.count, 2)
        let usageChunk = try XCTUnwrap(chunks.last)
        XCTAssertEqual((usageChunk["choices"] as? [Any])?.count, 0)
        XCTAssertEqual((usageChunk["usage"] as? [String: Any])?["completion_tokens"] as? Int, (whole["usage"] as? [String: Any])?["completion_tokens"] as? Int)
    }

    /// `echo` + `logprobs` gives prompt-token logprobs equal to the model's own
    /// log-softmax at each position (first token null), then the generated token.
    func testCompletionEchoLogprobsMatchSession() throws {
        let text = "The capital of France is"
        let reply = try client.post("/v1/completions", [
            "prompt": text, "max_tokens": 1, "temperature": 0, "echo": true, "logprobs": 1,
        ], headers: auth)
        XCTAssertEqual(reply.status, 200, reply.text)
        let json = try reply.json()
        let choice = try XCTUnwrap((json["choices"] as? [[String: Any]])?.first)
        let logprobs = try XCTUnwrap(choice["logprobs"] as? [String: Any])
        let tokens = try XCTUnwrap(logprobs["tokens"] as? [String])
        let values = try XCTUnwrap(logprobs["token_logprobs"] as? [Any])
        let tops = try XCTUnwrap(logprobs["top_logprobs"] as? [Any])
        let served = try XCTUnwrap(server.server.servedModel)
        let ids = served.tokenizer.encode(text, addSpecial: true)
        XCTAssertEqual(tokens.count, ids.count + 1)
        XCTAssertEqual(values.count, ids.count + 1)
        XCTAssertTrue(values[0] is NSNull)
        XCTAssertTrue(tops[0] is NSNull)
        XCTAssertTrue((choice["text"] as? String)?.hasPrefix(text) ?? false)

        let session = try served.model.makeSession(contextLength: 256, pool: ThreadPool(threadCount: 2))
        var expected: [Double] = []
        var greedy = 0
        try session.evaluate(ids) { index, logits in
            let m = Double(logits.max()!)
            let lse = m + log(logits.reduce(0.0) { $0 + exp(Double($1) - m) })
            if index + 1 < ids.count { expected.append(Double(logits[ids[index + 1]]) - lse) }
            else {
                greedy = logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) }!
                expected.append(Double(logits[greedy]) - lse)
            }
        }
        for (k, value) in values.dropFirst().enumerated() {
            let got = try XCTUnwrap(value as? Double, "token_logprobs[\(k + 1)]")
            XCTAssertEqual(got, expected[k], accuracy: 1e-3, "token \(k + 1) '\(tokens[k + 1])'")
        }
        XCTAssertEqual(tokens.last, served.tokenText(greedy))
        XCTAssertEqual((tops.last as? [String: Double])?.keys.first, served.tokenText(greedy))
        XCTAssertEqual((json["usage"] as? [String: Any])?["prompt_tokens"] as? Int, ids.count)
    }

    func testCompletionTokenPromptsAndStreaming() throws {
        let served = try XCTUnwrap(server.server.servedModel)
        let ids = served.tokenizer.encode("Once upon a time", addSpecial: true)
        let whole = try client.post("/v1/completions", [
            "prompt": [ids, ids], "max_tokens": 6, "temperature": 0, "stop": ["\n\n"],
        ], headers: auth).json()
        let choices = try XCTUnwrap(whole["choices"] as? [[String: Any]])
        XCTAssertEqual(choices.count, 2)
        XCTAssertEqual(choices[0]["text"] as? String, choices[1]["text"] as? String)
        XCTAssertEqual(choices[0]["text"] as? String, try referenceGreedy(ids, maxTokens: 6).text)
        XCTAssertEqual((whole["usage"] as? [String: Any])?["prompt_tokens"] as? Int, 2 * ids.count)

        let reply = try client.post("/v1/completions", [
            "prompt": "Once upon a time", "max_tokens": 6, "temperature": 0, "stream": true,
        ], headers: auth)
        let events = reply.events
        XCTAssertEqual(events.last, "[DONE]")
        var text = ""
        var finish: String?
        for e in events.dropLast() {
            let chunk = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(e.utf8)) as? [String: Any])
            let choice = try XCTUnwrap((chunk["choices"] as? [[String: Any]])?.first)
            text += choice["text"] as? String ?? ""
            if let f = choice["finish_reason"] as? String { finish = f }
        }
        XCTAssertEqual(text, choices[0]["text"] as? String)
        XCTAssertNotNil(finish)
    }

    /// Four requests at once generate in the same batches and each still gets exactly the
    /// answer the single-sequence path gives. Single-token steps normally take the integer
    /// (quantised-activation) kernels and multi-token steps the float ones, which differ in
    /// the last bits like llama.cpp's; the float path for both makes the comparison exact,
    /// which is what this test is about (scheduling, slots, per-sequence state).
    func testConcurrentRequestsMatchSequentialAnswers() throws {
        let floatServer = try TestServer.floatPath.get()
        var floatOptions = KernelOptions()
        floatOptions.integerActivations = false
        let prompts = ["The sky is", "My favourite food is", "In 1492,", "def fibonacci(n):"]
        var answers = [String?](repeating: nil, count: prompts.count)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: prompts.count) { i in
            let reply = try? floatServer.client.post("/v1/completions", ["prompt": prompts[i], "max_tokens": 12, "temperature": 0], headers: auth)
            let text = ((try? reply?.json())?["choices"] as? [[String: Any]])?.first?["text"] as? String
            lock.withLock { answers[i] = text }
        }
        let served = try XCTUnwrap(floatServer.server.servedModel)
        for (i, p) in prompts.enumerated() {
            let expected = try referenceGreedy(served.tokenizer.encode(p, addSpecial: true), maxTokens: 12, options: floatOptions).text
            XCTAssertEqual(answers[i], expected, "prompt \(i) '\(p)'")
        }
        XCTAssertTrue(TestServer.eventually { served.scheduler.load.active == 0 })
    }

    func testSeedReproducibleAndChoicesDiffer() throws {
        let body: [String: Any] = ["prompt": "Write a word:", "max_tokens": 8, "temperature": 1.0, "seed": 42, "n": 3]
        let a = try client.post("/v1/completions", body, headers: auth).json()
        let b = try client.post("/v1/completions", body, headers: auth).json()
        let textsA = (a["choices"] as? [[String: Any]])?.map { $0["text"] as? String ?? "" }
        let textsB = (b["choices"] as? [[String: Any]])?.map { $0["text"] as? String ?? "" }
        XCTAssertEqual(textsA?.count, 3)
        XCTAssertEqual(textsA, textsB)
        XCTAssertEqual((a["choices"] as? [[String: Any]])?.map { $0["index"] as? Int ?? -1 }, [0, 1, 2])
    }
}
