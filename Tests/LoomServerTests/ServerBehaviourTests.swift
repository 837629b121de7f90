import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import LoomServer

/// Bad input, authentication, utility routes, metrics, disconnects, queue limits and
/// graceful shutdown, over real HTTP.
final class ServerBehaviourTests: XCTestCase {
    var server: TestServer!
    var client: RawHTTPClient { server.client }
    let auth = TestServer.auth

    override func setUpWithError() throws {
        server = try TestServer.shared.get()
    }

    func testAuthentication() throws {
        XCTAssertEqual(try client.get("/health").status, 200)
        assertError(try client.get("/v1/models"), 401, code: "invalid_api_key")
        assertError(try client.get("/v1/models", headers: ["Authorization": "Bearer wrong"]), 401)
        assertError(try client.post("/v1/chat/completions", ["messages": [["role": "user", "content": "hi"]]]), 401)
        assertError(try client.get("/metrics", headers: ["Authorization": "Basic \(TestServer.apiKey)"]), 401)
        // RFC 6750: every 401 tells the client which scheme to use.
        for reply in [try client.get("/v1/models"), try client.get("/v1/models", headers: ["Authorization": "Bearer wrong"])] {
            let challenge = reply.headers.first { $0.key.lowercased() == "www-authenticate" }?.value
            XCTAssertEqual(challenge, "Bearer", "\(reply.headers)")
        }
        let models = try client.get("/v1/models", headers: auth)
        XCTAssertEqual(models.status, 200)
        let data = try XCTUnwrap(try models.json()["data"] as? [[String: Any]])
        XCTAssertEqual(data.first?["id"] as? String, "smol")
    }

    func testBadInputs() throws {
        let chat = "/v1/chat/completions", completions = "/v1/completions"
        let messages = [["role": "user", "content": "hi"]]
        assertError(try client.request("POST", chat, raw: "{\"messages\": [", headers: auth), 400, code: "invalid_json")
        assertError(try client.request("POST", chat, raw: "[1, 2]", headers: auth), 400, code: "invalid_json")
        assertError(try client.post(chat, ["messages": messages, "max_tokens": "ten"], headers: auth), 400, param: "max_tokens")
        assertError(try client.post(chat, ["messages": messages, "temperature": "hot"], headers: auth), 400, param: "temperature")
        assertError(try client.post(chat, ["messages": messages, "stream": "yes"], headers: auth), 400, param: "stream")
        assertError(try client.post(chat, ["messages": "hi"], headers: auth), 400, param: "messages")
        assertError(try client.post(chat, ["max_tokens": 3], headers: auth), 400, param: "messages")
        assertError(try client.post(chat, ["messages": [["content": "no role"]]], headers: auth), 400, param: "messages")
        assertError(try client.post(chat, ["messages": messages, "max_tokens": -1], headers: auth), 400, param: "max_tokens")
        assertError(try client.post(chat, ["messages": messages, "max_completion_tokens": -5], headers: auth), 400, param: "max_completion_tokens")
        assertError(try client.post(chat, ["messages": messages, "top_p": 0], headers: auth), 400, param: "top_p")
        assertError(try client.post(chat, ["messages": messages, "top_logprobs": 3], headers: auth), 400, param: "top_logprobs")
        assertError(try client.post(chat, ["messages": messages, "logit_bias": ["abc": 1]], headers: auth), 400, param: "logit_bias.abc")
        assertError(try client.post(completions, ["prompt": 42], headers: auth), 400, param: "prompt")
        assertError(try client.post(completions, ["prompt": [1, "a"]], headers: auth), 400, param: "prompt[1]")
        assertError(try client.post(completions, ["prompt": [999_999]], headers: auth), 400, param: "prompt[0]")
        assertError(try client.post(completions, ["prompt": "x", "n": 0], headers: auth), 400, param: "n")
        // Longer than the 256-token context.
        let long = String(repeating: "hello world ", count: 300)
        assertError(try client.post(completions, ["prompt": long], headers: auth), 400, code: "context_length_exceeded")
        assertError(try client.post(chat, ["messages": [["role": "user", "content": long]]], headers: auth), 400, code: "context_length_exceeded")
        assertError(try client.post("/v1/nothing", ["a": 1], headers: auth), 404)
        // The model's file name and alias are both accepted.
        let file = try XCTUnwrap(server.server.servedModel).model.path
        for name in ["smol", (file as NSString).lastPathComponent] {
            XCTAssertEqual(try client.post(completions, ["prompt": "Hi", "max_tokens": 1, "model": name], headers: auth).status, 200, name)
        }
    }

    func testTokenizeDetokenizeApplyTemplate() throws {
        let served = try XCTUnwrap(server.server.servedModel)
        let text = "Hello, world!"
        let tokens = try client.post("/tokenize", ["content": text], headers: auth).json()["tokens"] as? [Int]
        XCTAssertEqual(tokens, served.tokenizer.encode(text, addSpecial: false))
        let pieces = try client.post("/tokenize", ["content": text, "with_pieces": true], headers: auth).json()["tokens"] as? [[String: Any]]
        XCTAssertEqual(pieces?.compactMap { $0["piece"] as? String }.joined(), text)
        let back = try client.post("/detokenize", ["tokens": tokens ?? []], headers: auth).json()["content"] as? String
        XCTAssertEqual(back, text)
        let prompt = try client.post("/apply-template", ["messages": [["role": "user", "content": "Hi"]]], headers: auth).json()["prompt"] as? String
        XCTAssertEqual(prompt, try served.formatter?.render([.user("Hi")], addGenerationPrompt: true))
        assertError(try client.post("/detokenize", ["tokens": ["x"]], headers: auth), 400, param: "tokens[0]")
    }

    func testMetrics() throws {
        _ = try client.post("/v1/completions", ["prompt": "One two", "max_tokens": 3, "temperature": 0], headers: auth)
        let reply = try client.get("/metrics", headers: auth)
        XCTAssertEqual(reply.status, 200)
        XCTAssertTrue(reply.headers["content-type"]?.hasPrefix("text/plain") ?? false)
        var values: [String: Double] = [:]
        for line in reply.text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { values[String(parts[0])] = Double(parts[1]) }
        }
        XCTAssertGreaterThanOrEqual(values["loom:tokens_predicted_total"] ?? 0, 3)
        XCTAssertGreaterThanOrEqual(values["loom:prompt_tokens_total"] ?? 0, 2)
        XCTAssertGreaterThan(values["loom:tokens_predicted_seconds_total"] ?? 0, 0)
        XCTAssertNotNil(values["loom:kv_cache_usage_ratio"])
        XCTAssertNotNil(values["loom:requests_deferred"])
        XCTAssertNotNil(values["loom:requests_processing"])
        XCTAssertGreaterThanOrEqual(values["loom:requests_total{status=\"200\"}"] ?? 0, 1)
    }

    /// A client that drops a stream mid-way frees its slot well before its max_tokens.
    func testDisconnectMidStreamFreesSlot() throws {
        let served = try XCTUnwrap(server.server.servedModel)
        let before = served.scheduler.metrics.render()
        let body = try JSONSerialization.data(withJSONObject: [
            "prompt": "Count: 1, 2, 3,", "max_tokens": 200, "stream": true, "temperature": 0,
            "logit_bias": [String(served.tokenizer.eosID ?? 0): -100],
        ])
        let fd = try client.open("POST", "/v1/completions", body: body, headers: auth)
        var received = [UInt8]()
        while !String(decoding: received, as: UTF8.self).contains("\"text\"") {
            let chunk = RawHTTPClient.read(fd)
            if chunk.isEmpty { break }
            received += chunk
        }
        XCTAssertTrue(String(decoding: received, as: UTF8.self).contains("data: "))
        XCTAssertEqual(served.scheduler.load.active, 1)
        close(fd)
        let freed = TestServer.eventually(timeout: 5) { served.scheduler.load.active == 0 }
        XCTAssertTrue(freed, "the slot was not freed after the client disconnected")
        _ = before
    }

    /// A client that leaves before a non-streamed answer is complete frees its slot too:
    /// nothing is written until the end, so the server has to watch the connection itself.
    func testDisconnectDuringNonStreamedAnswerFreesSlot() async throws {
        // A long context so that, without the watch, the answer would run for many seconds
        // (1,500 tokens) and the 3-second check below could not pass by luck.
        let long = try TestServer(configuration: ServerConfiguration(port: 0, parallel: 1, contextLength: 2048, threads: 2))
        let served = try XCTUnwrap(long.server.servedModel)
        let body = try JSONSerialization.data(withJSONObject: [
            "messages": [["role": "user", "content": "Count from one to a thousand."]],
            "max_tokens": 1500, "temperature": 0,
            "logit_bias": [String(served.tokenizer.eosID ?? 0): -100],
        ])
        let fd = try long.client.open("POST", "/v1/chat/completions", body: body)
        let started = TestServer.eventually(timeout: 10) { served.scheduler.load.active == 1 }
        XCTAssertTrue(started, "the request never started decoding")
        close(fd)
        let freed = TestServer.eventually(timeout: 3) { served.scheduler.load.active == 0 }
        XCTAssertTrue(freed, "the slot was not freed after the client of a non-streamed request disconnected")
        // The server still answers afterwards.
        let reply = try long.client.post("/v1/completions", ["prompt": "Hi", "max_tokens": 2])
        XCTAssertEqual(reply.status, 200)
        await long.stop()
    }

    /// With one slot and a queue of one, a third concurrent request gets 503 + Retry-After;
    /// dropped requests leave the queue and the slot; the server stops when asked.
    func testQueueFullAndGracefulShutdown() async throws {
        let small = try TestServer(configuration: ServerConfiguration(port: 0, parallel: 1, contextLength: 128, threads: 2, queueLimit: 1))
        let c = small.client
        let served = try XCTUnwrap(small.server.servedModel)
        let ban = [String(served.tokenizer.eosID ?? 0): -100]
        let long: [String: Any] = ["prompt": "a b c", "max_tokens": 40, "stream": true, "logit_bias": ban]
        let first = try c.open("POST", "/v1/completions", body: try JSONSerialization.data(withJSONObject: long))
        XCTAssertTrue(TestServer.eventually { served.scheduler.load.active == 1 })
        let second = try c.open("POST", "/v1/completions", body: try JSONSerialization.data(withJSONObject: long))
        XCTAssertTrue(TestServer.eventually { served.scheduler.load.queued == 1 })
        let third = try c.post("/v1/completions", ["prompt": "x", "max_tokens": 1])
        assertError(third, 503, code: "queue_full")
        XCTAssertEqual(third.headers["retry-after"], "1")
        // Both clients leave: the running one frees its slot, the queued one is dropped
        // at its first write (well before its 40 tokens).
        close(first)
        close(second)
        XCTAssertTrue(TestServer.eventually(timeout: 10) { served.scheduler.load == (0, 0) }, "slots or queue leaked")
        // Stopping (task cancellation here; SIGINT/SIGTERM in `loom serve` are graceful) ends run().
        await small.stop()
        XCTAssertThrowsError(try c.get("/health"), "the server still answers after stop")
    }
}
